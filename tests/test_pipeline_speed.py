"""``benchmarks/pipeline_speed.py`` times every engine in every round, none always first."""

import importlib.util

from conftest import REPO

from pipeline.evaluation import SceneReport


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "pipeline_speed", REPO / "benchmarks" / "pipeline_speed.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_round_turns_the_order_and_every_engine_keeps_its_speeds():
    order = []

    def engine(name, photos):
        def run():
            order.append(name)
            report = SceneReport()
            report.images = photos
            return report

        return run

    engines = {name: engine(name, photos) for name, photos in (("a", 1), ("b", 2), ("c", 3))}
    runs = load_benchmark().time_rounds(engines, rounds=4)

    assert order == [*"abc", *"bca", *"cab", *"abc"]
    assert list(runs) == ["a", "b", "c"]  # reported in the given order
    for name, photos in (("a", 1), ("b", 2), ("c", 3)):
        report, speeds = runs[name]
        assert report.images == photos and len(speeds) == 4 and min(speeds) > 0
