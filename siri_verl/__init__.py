"""siri-verl: SIRI and InftyThink+ as a thin plugin layer over verl."""

__version__ = "0.1.0"
