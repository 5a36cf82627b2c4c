"""The exporter takes mllm.pt's `emb` as demo.ipynb does: [1, 8, D] or [8, D], baked as given (logged against the
table rows), and refuses any other shape. Needs torch: run by test/models/exporter-python.test.ts where it is installed."""
import logging
import torch
from pathlib import Path
from torch import nn
from models.export.torch_models import EditMapper
from models.export import load_checkpoints as lc
logging.basicConfig(level=logging.INFO, format="%(message)s")
torch.manual_seed(0)
D = 64
head = EditMapper(llm_dim=D, hidden=32, heads=4, encoder_layers=2, decoder_layers=2, feed_forward=64, queries=77, out_dim=32)
state = {f"edit_head.{k}": v for k, v in head.state_dict().items()}
llm = nn.Module(); emb_table = nn.Embedding(20, D); llm.get_input_embeddings = lambda: emb_table
ids = list(range(12, 20))
table_rows = emb_table.weight[torch.tensor(ids)].detach()
checks = 0
for shape_name, emb in [("[1,8,D]", table_rows[None].clone()), ("[8,D]", table_rows.clone()), ("[8,D] other", torch.randn(8, D))]:
    mllm = dict(state, emb=emb)
    h, e = lc._load_edit_head(Path("mllm.pt"), mllm, D, torch.float32)
    assert tuple(e.shape) == (1, 8, D), e.shape
    chosen = lc._choose_img_embeddings(llm, ids, e, Path("mllm.pt"), torch.float32)
    assert torch.equal(chosen, emb.reshape(8, D)), shape_name  # the checkpoint's emb, as the demo uses it
    checks += 2
try:
    lc._load_edit_head(Path("mllm.pt"), dict(state, emb=torch.zeros(2, 8, D)), D, torch.float32); raise SystemExit("accepted a bad shape")
except lc.CheckpointError as e:
    print("refused:", e); checks += 1
print("checks passed:", checks)
