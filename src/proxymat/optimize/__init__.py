"""Fitting a material graph to a target photo: loss, Stages I-III, outputs."""
