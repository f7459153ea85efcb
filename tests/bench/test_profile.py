"""bench.profile's summary of py-spy's raw stacks: per process, per category, waits apart."""

from __future__ import annotations

from pathlib import Path

from bench.profile import OTHER, WAITING, summarize

SERVER = 'process 10:"python -m mlapi"'
WORKER = 'process 11:"python -m mlapi.workers.child --preload torch"'
LOOP = "BaseEventLoop._run_once (asyncio/base_events.py:1922)"
STACKS = [
    f"{SERVER};{LOOP};EpollSelector.select (selectors.py:468);epoll_wait (libc.so.6) 50",
    f"{SERVER};{LOOP};_SelectorSocketTransport.write (asyncio/selector_events.py:1057);"
    "sock_send (socketmodule.c:4207);send (libc.so.6) 7",
    f"{SERVER};{LOOP};Deployment._answer (mlapi/serving/deployment.py:131);"
    "Truncation.ids (mlapi/runtime/truncation.py:109) 3",
    f"{SERVER};{LOOP};Batcher.submit (mlapi/serving/batcher.py:135);gc_collect_main (libpython) 2",
    f"{SERVER};0x7f00 (libc.so.6) 1",
    f"{SERVER};{WORKER};serve (mlapi/workers/child.py:58);"
    "forward (mlapi/runtime/torch_backend.py:90);at::native::addmm (libtorch_cpu.so) 40",
    f"{SERVER};{WORKER};serve (mlapi/workers/child.py:52);read (mlapi/workers/protocol.py:80) 1",
    "not a stack line",
]


def test_samples_are_summed_by_process_and_category(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks.txt"
    stacks.write_text("\n".join(STACKS) + "\n")
    summary = summarize(stacks)
    assert summary["server"] == {
        WAITING: 50,
        "socket sends (answers, Redis commands)": 7,
        "tokenization": 3,
        "garbage collection": 2,
        OTHER: 1,
    }
    assert summary["worker"] == {
        "model forward (torch/onnxruntime)": 40,
        "IPC to workers (pickle, frames, pipes)": 1,
    }
