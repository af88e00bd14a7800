"""Threads: the GIL is released while the library runs, concurrent runs give the one-call result,
progress callbacks reach Python."""
import os
import threading
import time

import numpy as np

import spikeformer as sf
from conftest import DATA, MODELS, strip


def test_two_threads_evaluate(converted):
    snn = sf.load(str(converted["vit"][0]))
    ds = sf.load_dataset(DATA, limit=128)
    one = strip(snn.evaluate(ds, timesteps=4))
    results, errors = [None, None], []

    def work(i):
        try:
            results[i] = strip(snn.evaluate(ds, timesteps=4))
        except BaseException as e:  # surfaced below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in ts)
    assert results[0] == one and results[1] == one


def test_gil_released_during_runs(converted):
    """A Python thread keeps running while another is inside the library."""
    snn = sf.load(str(converted["vit"][0]))
    x = np.repeat(np.load(str(MODELS["vit-onnx"].parent / "sample_input.npy")), 16, axis=0)
    done = threading.Event()
    spins = []

    def run():
        t0 = time.perf_counter()
        snn.run(x, timesteps=16)
        spins.append(time.perf_counter() - t0)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    n = 0
    while not done.is_set():
        n += 1
    t.join()
    # had the call held the GIL, this loop could not have turned while the run (tens of ms) went on
    assert spins[0] > 0.01 and n > 1000, (spins, n)


def test_threads_run_same_outputs(converted, sample):
    snn = sf.load(str(converted["mlp"][0]))
    x = sample["mlp"][0]
    want = snn.run(x)
    outs = [None] * 4

    def work(i):
        outs[i] = snn.run(x)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert all(np.array_equal(o, want) for o in outs)


def test_progress(converted, capsys):
    snn = sf.load(str(converted["mlp"][0]))
    seen = []
    snn.evaluate(DATA, limit=300, batch=100, progress=lambda what, done, total: seen.append((what, done, total)))
    assert seen[0] == ("snn eval", 0, 300) and seen[-1] == ("snn eval", 300, 300) and len(seen) >= 4
    snn.evaluate(DATA, limit=100, progress=True)
    err = capsys.readouterr().err
    assert "snn eval [" in err and "100/100" in err and err.endswith("\n")
    ann = sf.load(str(MODELS["mlp-onnx"]))
    seen.clear()
    ann.evaluate(DATA, limit=100, progress=lambda *a: seen.append(a))
    assert seen[-1] == ("eval", 100, 100)


def test_progress_exception_reraised(converted):
    snn = sf.load(str(converted["mlp"][0]))

    def boom(what, done, total):
        raise ValueError("stop")

    try:
        snn.evaluate(DATA, limit=50, progress=boom)
    except ValueError as e:
        assert str(e) == "stop"
    else:
        raise AssertionError("the callback's exception was swallowed")


def test_set_threads_as_cli(work, converted):
    """sf.set_threads(n) is --threads n; the default is the CLI's (all cores), whatever another
    library (torch, imported by this session's test_torch) did to OpenMP's count on this thread."""
    from conftest import cli_json
    sfm, _ = converted["mlp"]
    snn = sf.load(str(sfm))
    try:
        sf.set_threads(1)
        assert sf.threads() == 1
        assert strip(snn.evaluate(DATA, limit=200)) == strip(cli_json(work, "eval", sfm, "--limit", 200, "--threads", 1))
    finally:
        sf.set_threads(0)
    assert sf.threads() == len(os.sched_getaffinity(0))  # omp_get_num_procs: the cores this process may use
    assert strip(snn.evaluate(DATA, limit=200)) == strip(cli_json(work, "eval", sfm, "--limit", 200))
