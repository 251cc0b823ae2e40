"""Model parts that are not stock transformers classes: the CRF layer and the CRF tagger."""
