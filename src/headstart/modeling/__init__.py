"""Model parts that are not stock transformers classes: the CRF layer, the CRF tagger and the
lean CPU training attention."""
