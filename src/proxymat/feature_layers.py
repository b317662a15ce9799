"""Names of the texture-network layers the losses read (torch-free, shared by features and loss settings)."""

STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
FEATURE_LAYERS: tuple[str, ...] = ("relu2_2", "relu3_2", "relu4_2")
ALL_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu4_1", "relu4_2", "relu5_1")
