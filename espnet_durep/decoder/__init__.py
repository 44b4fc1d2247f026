"""Transducer prediction / joint networks and their streaming search."""
