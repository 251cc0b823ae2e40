"""Evaluation: metrics, the model card, and scoring a saved model on a labeled file."""
