"""Training: config -> TrainingArguments, the Trainer subclass, and the run that saves a model."""
