"""The embedding engine: frames -> DNABERT-S and ESM-2 pooled embeddings -> 3328-d features.

Frames are tokenised on the CPU (`tokenize`, safe to run in a prefetch thread), packed into
length-sorted token-budget batches, copied from pinned memory without blocking, and run back to
back; pooled results stay on the device until the whole unit is queued, so the GPU never waits
for the host between batches. On out-of-memory (a device's, or the CPU's, whose attention bias is checked
against free memory before it is built) a batch is split in half and retried; a single sequence that does
not fit stops the run with exit code 4.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import torch

from virnucpro.engine.batching import shape_bucket, token_budget_batches
from virnucpro.errors import OutOfMemoryError
from virnucpro.models.alphabet import encode_protein
from virnucpro.models.packing import PackedBatch, pack

log = logging.getLogger("virnucpro")
T = TypeVar("T")


@dataclass
class EngineConfig:
    """Knobs of the embedding engine."""

    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    esm_batch_tokens: int = 16384
    dnabert_batch_tokens: int = 65536
    attention: str = "auto"
    compile: bool = False
    fixed_shapes: bool | None = None  # pad every ESM batch to its budget; default: with compile
    esm_linear: str = "plain"  # ESM-2's linear layers: plain, fp8 (--precision fp8) or fp8_reference (tests)
    esm_fp8_linears: tuple[str, ...] = ("qkv", "out_proj", "fc1", "fc2")  # which of them run in fp8
    esm_attention: str | None = None  # the kernel planned for each encoder (engine/device_plan.py); None: `attention`
    dnabert_attention: str | None = None
    compile_cache: Path | None = None  # where compiled kernels are kept (beside the models); None: torch's default

    def __post_init__(self) -> None:
        if self.fixed_shapes is None:
            self.fixed_shapes = self.compile


@dataclass
class TokenizedFrames:
    """Token ids of a unit's frames for both encoders."""

    ids: list[str]
    dna: list[list[int]]
    protein: list[list[int]]


def default_batch_tokens(device: str) -> tuple[int, int]:
    """(ESM-2, DNABERT-S) packed tokens per batch on `device` (engine/device_plan.batch_tokens of its facts now)."""
    from virnucpro.engine.device_plan import batch_tokens
    from virnucpro.models.capabilities import probe

    return batch_tokens(probe(device))


def cast_for_inference(model: torch.nn.Module, device: str, dtype: torch.dtype) -> torch.nn.Module:
    """Move/cast a model, keeping rotary `inv_freq` tables in fp32 (they are precision-critical)."""
    keep = {n: b.detach().clone() for n, b in model.named_buffers() if n.endswith("inv_freq")}
    model.to(device=device, dtype=dtype)
    for name, buf in keep.items():
        owner = model.get_submodule(name.rsplit(".", 1)[0])
        owner.inv_freq = buf.to(device)
    return model.eval()


JOIN_SECONDS = 60.0  # how long a stopped consumer waits for the producer to drop its item


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate `items` in a background thread, `depth` ahead (CPU work overlaps GPU work).

    When the consumer stops early (an error, a signal), the producer stops too instead of blocking.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    done, stop = object(), threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # re-raised in the consumer
            put(exc)

    producer = threading.Thread(target=produce, daemon=True, name="virnucpro-prefetch")
    producer.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # let the producer finish the item in hand: a daemon thread still inside native code (torch, the compiled
        # prep) when the interpreter exits aborts the process ("terminate called without an active exception")
        producer.join(timeout=JOIN_SECONDS)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host tensor on `device` without a host sync: a copy from pageable memory first waits for every kernel
    queued on the stream (the GPU then idles while the host prepares the next batch); from pinned memory it queues."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


@dataclass
class HostCopy:
    """A unit's features on their way to host memory (`done`: the event after the copy; None when already there)."""

    features: torch.Tensor  # (F, D) fp32
    done: "torch.cuda.Event | None"

    def result(self) -> torch.Tensor:
        if self.done is not None:
            self.done.synchronize()
        return self.features


def is_out_of_memory(exc: RuntimeError) -> bool:
    """A device's OOM, or the CPU allocator's ("DefaultCPUAllocator: not enough memory")."""
    text = str(exc)
    return isinstance(exc, torch.OutOfMemoryError) or "not enough memory" in text or "DefaultCPUAllocator" in text


class Embedder:
    """Holds the two encoders on one device and embeds frames."""

    def __init__(self, dnabert, dna_tokenizer, esm, cfg: EngineConfig) -> None:
        self.cfg = cfg
        self.dnabert = cast_for_inference(dnabert, cfg.device, cfg.dtype)
        self.esm = cast_for_inference(esm, cfg.device, cfg.dtype)
        self.dnabert.attention_backend = cfg.dnabert_attention or cfg.attention
        self.esm.attention_backend = cfg.esm_attention or cfg.attention
        self.dnabert.attention_pad_to = cfg.dnabert_batch_tokens  # one compiled FlexAttention shape
        if cfg.esm_linear != "plain":
            from virnucpro.models.fp8 import quantize_esm

            quantize_esm(self.esm, cfg.esm_fp8_linears)  # weights quantised once, here; the fp16 ones stay
            self.esm.use_linear(cfg.esm_linear)
        # FlexAttention compiles on CUDA even without --compile: its kernels are cached too
        flex = (cfg.dnabert_attention or cfg.attention) in ("flex", "auto")
        compiles = cfg.compile or (cfg.device.startswith("cuda") and flex)
        self.kernel_cache = self._use_compile_cache() if compiles and cfg.compile_cache is not None else None
        if cfg.compile:
            self.dnabert.compile_blocks()
            self.esm.compile_blocks()
        self.tokenizer = dna_tokenizer
        self.timeline: list | None = None  # a list: (start, end) CUDA events of every batch (the benchmark's GPU-idle)
        self.split_said = False  # a batch split for memory has been said (once per process)

    def _use_compile_cache(self):
        from virnucpro.engine.compile_cache import use_compile_cache

        c = self.cfg
        shapes = {"esm_tokens": c.esm_batch_tokens, "dnabert_tokens": c.dnabert_batch_tokens, "dtype": str(c.dtype),
                  "attention": c.attention, "fixed": c.fixed_shapes, "linear": c.esm_linear,
                  "fp8": list(c.esm_fp8_linears) if c.esm_linear != "plain" else []}
        return use_compile_cache(c.compile_cache, c.device, shapes)

    def seal_compile_cache(self) -> None:
        """After a run: record the compiled kernels' checksums, so the next run can trust them."""
        if self.kernel_cache is not None:
            self.kernel_cache.seal()

    @property
    def feature_dim(self) -> int:
        return self.dnabert.cfg.hidden_size + self.esm.cfg.embed_dim

    def tokenize(self, ids: list[str], nucleotides: list[str], proteins: list[str]) -> TokenizedFrames:
        """CPU-only step (thread-safe): token ids for DNABERT-S and ESM-2."""
        return TokenizedFrames(ids, self.tokenizer.encode_batch(nucleotides), [encode_protein(p) for p in proteins])

    def features(self, tok: TokenizedFrames) -> torch.Tensor:
        """(F, D_dna + D_esm) fp32 features on the CPU, in frame order."""
        return self.features_on_device(tok).cpu()

    def features_to_host(self, tok: TokenizedFrames, on_batch: Callable[[int], None] | None = None) -> "HostCopy":
        """Queue a unit's features and their copy into pinned host memory; `HostCopy.result()` then waits for this
        unit's work alone, not for units queued after it (a plain .cpu() would wait for the whole stream)."""
        feats = self.features_on_device(tok, on_batch)
        if not feats.is_cuda:
            return HostCopy(feats, None)
        host = torch.empty(feats.shape, dtype=feats.dtype, pin_memory=True)  # (F, D)
        host.copy_(feats, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        return HostCopy(host, done)

    def features_on_device(self, tok: TokenizedFrames, on_batch: Callable[[int], None] | None = None) -> torch.Tensor:
        """Queue both encoders for a unit and return the (F, D) features without waiting for the device.

        `on_batch(n)` is called after each ESM-2 batch of n frames is queued (ESM-2 is ~97% of the work).
        """
        dna = self.encode(self.dnabert, tok.dna, tok.ids, self.cfg.dnabert_batch_tokens)
        prot = self.encode(self.esm, tok.protein, tok.ids, self.cfg.esm_batch_tokens, on_batch)
        return torch.cat([dna, prot], dim=1)

    @torch.inference_mode()
    def encode(self, model: Callable[[PackedBatch], torch.Tensor], tokens: list[list[int]], ids: list[str],
               budget: int, on_batch: Callable[[int], None] | None = None) -> torch.Tensor:
        """Pooled embeddings (N, D) fp32 on the device, in input order, packed under a token budget."""
        parts: list[tuple[list[int], torch.Tensor]] = []
        for n, batch in enumerate(token_budget_batches([len(t) for t in tokens], budget)):
            events = self._mark("esm" if model is self.esm else "dnabert", n) if self.timeline is not None else None
            self._run_split_on_oom(model, tokens, ids, batch, parts, budget)
            if events is not None:
                events[1].record()
            if on_batch is not None:
                on_batch(len(batch))
        order = torch.tensor([i for idx, _ in parts for i in idx], dtype=torch.long)
        emb = torch.cat([e for _, e in parts])  # (N, D) in batch order
        out = torch.empty_like(emb)
        out[to_device(order, emb.device)] = emb
        return out

    def _mark(self, encoder: str, n: int) -> tuple:
        """A batch's (start, end) timing events, the start recorded now on the current stream; the timeline keeps
        them with the encoder and the batch's index in its unit."""
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        self.timeline.append((start, end, encoder, n))
        return start, end

    def _does_not_fit(self, frame: str, n_tokens: int, exc: RuntimeError) -> str:
        if self.cfg.device == "cpu":
            why = str(exc).splitlines()[0][:100] if str(exc) else "out of memory"
            return (f"sequence {frame!r} ({n_tokens} tokens) does not fit in host memory even alone ({why}): use a "
                    "smaller --chunk-size, a GPU, or a machine with more memory")
        return (f"sequence {frame!r} ({n_tokens} tokens) does not fit in GPU memory even alone: use a GPU with more "
                "memory, or lower --batch-tokens")

    def _say_split(self, n: int) -> None:
        """A split changes the batch's padding, hence the order of float sums: said once per process, at warning."""
        if not self.split_said:
            self.split_said = True
            log.warning("a batch of %d frames did not fit in %s memory and was split in half (more splits are logged "
                        "with -v): the scores of split batches can differ in their last digits from a run that had the "
                        "memory (padding changes the order of float sums); everything is still computed",
                        n, "host" if self.cfg.device == "cpu" else "GPU")
        else:
            log.debug("out of memory on a batch of %d sequences: splitting", n)

    def _run_split_on_oom(self, model, tokens, ids, batch: list[int], parts: list, budget: int) -> None:
        try:
            # ESM: a few static shapes for its compiled blocks (dynamic-shape kernels were 6x slower for rotary);
            # DNABERT pads only inside FlexAttention (its token-wise work on filler would cost more than it saves)
            n_tokens = sum(len(tokens[i]) for i in batch)
            pad_to = shape_bucket(n_tokens, budget) if self.cfg.fixed_shapes and model is self.esm else None
            packed = pack([tokens[i] for i in batch], pad_to=pad_to, pad_id=model.pad_token_id if pad_to else 0)
            if self.cfg.device != "cpu":
                packed = packed.pin_memory().to(self.cfg.device, non_blocking=True)
            parts.append((batch, model(packed)[: len(batch)].float()))  # stays on the device: no host sync
        except RuntimeError as exc:  # torch.OutOfMemoryError on a device; the CPU's allocator raises a plain one
            if not is_out_of_memory(exc):
                raise
            if self.cfg.device != "cpu":
                torch.cuda.empty_cache()
            if len(batch) == 1:
                raise OutOfMemoryError(self._does_not_fit(ids[batch[0]], len(tokens[batch[0]]), exc)) from None
            half = len(batch) // 2
            self._say_split(len(batch))
            self._run_split_on_oom(model, tokens, ids, batch[:half], parts, budget)
            self._run_split_on_oom(model, tokens, ids, batch[half:], parts, budget)
