"""Clustering quality: recipes, baselines, choosing K, counts, result tables."""
