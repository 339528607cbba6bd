"""Datasets (Human3.6M, HumanEva-I, procedural), training windows, format conversion,
and the in-the-wild recipe's virtual cameras and detector noise."""
