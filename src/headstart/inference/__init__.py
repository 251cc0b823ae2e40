"""Inference: the Predictor over a saved directory, and embeddings from any backbone."""
