"""Training: case loading, patient-level splits, losses and the trainer loop."""
