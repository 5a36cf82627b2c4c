"""MGIE's architectures at a few thousand parameters per part, for the exporter's checks of --random-init (not a check itself)."""
from models.export.random_models import Geometry

SMALL = Geometry(
    llm_hidden=64, llm_intermediate=96, llm_heads=4, llm_kv_heads=4, llm_layers=4,
    clip=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, image_size=32, patch_size=8,
              projection_dim=32, hidden_act="quick_gelu"),
    edit_head=dict(hidden=32, heads=4, encoder_layers=1, decoder_layers=1, feed_forward=64, queries=77, out_dim=32),
    vae=dict(block_out_channels=(8, 16, 16, 16), down_block_types=("DownEncoderBlock2D",) * 4,
             up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=1, norm_num_groups=4, latent_channels=4),
    unet=dict(sample_size=8, in_channels=8, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
              down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
              cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8))
