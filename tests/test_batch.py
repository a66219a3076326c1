"""The batch layer: planning, skip-if-done, atomic writes, a local run with stand-in models."""

import json
import os
import pickle

import numpy as np
import pytest
from conftest import DATA, REPO
from PIL import Image

from pipeline import OCRPipeline
from pipeline.batch import Job, pending, plan_jobs, run_jobs, write_atomically
from pipeline.result import OCRResult
from pipeline.spec import PipelineSpec
from pipeline.stages import Detection, Detector, Recognizer
from recognizer import Reading


class OneBoxDetector:
    """A box over the left half of every image."""

    def detect(self, images):
        boxes = []
        for image in images:
            h, w = image.shape[:2]
            polygon = np.array([[0, 0], [w / 2, 0], [w / 2, h], [0, h]], np.float32)
            boxes.append([Detection(polygon, 0.9)])
        return boxes


class WidthReader:
    """Reads every crop as its width."""

    def read(self, crops, batch_size=64):
        return [Reading(f"w{np.asarray(c).shape[1]}", 0.9, [0.9]) for c in crops]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (80, 40), "white").save(folder / "a.png")
    Image.new("RGB", (120, 40), "white").save(folder / "sub" / "b.jpg")
    (folder / "broken.jpg").write_bytes(b"not a photo")
    return folder


def test_stand_in_stages_satisfy_the_stage_interfaces():
    assert isinstance(OneBoxDetector(), Detector) and isinstance(WidthReader(), Recognizer)


def test_a_run_writes_each_result_goes_past_a_bad_file_and_reports_it(photos, tmp_path):
    out = tmp_path / "out"
    jobs = plan_jobs([photos], out)
    seen = []
    report = run_jobs(
        OCRPipeline(OneBoxDetector(), WidthReader()),
        jobs,
        images_per_batch=2,
        on_result=lambda job, result: seen.append((job.photo.name, result.text)),
    )
    assert (report.read, report.skipped) == (2, 0)
    assert [(path.name, "not an image" in why) for path, why in report.failures] == [
        ("broken.jpg", True)
    ]
    assert sorted(seen) == [("a.png", "w40"), ("b.jpg", "w60")]
    written = json.loads((out / "sub" / "b.jpg.json").read_text())
    assert written["schema_version"] == 2 and written["text"] == "w60"
    assert not report.ok


def test_a_second_run_skips_what_is_done_and_completes_missing_overlays(photos, tmp_path):
    out = tmp_path / "out"
    jobs = plan_jobs([photos], out)
    pipeline = OCRPipeline(OneBoxDetector(), WidthReader())
    run_jobs(pipeline, jobs)
    again = run_jobs(pipeline, jobs)
    assert (again.read, again.skipped) == (0, 2)
    # Asked for overlays now: the jobs without one are not done; the overlay is drawn from
    # the result in their JSON, without reading the photo again.
    assert len(pending(jobs, visualize=True)) == 3
    with_overlays = run_jobs(pipeline, jobs, visualize=True)
    assert (with_overlays.read, with_overlays.completed) == (0, 2)  # drawn from the JSON
    assert (out / "a.png.overlay.jpg").is_file() and (out / "sub" / "b.jpg.overlay.jpg").is_file()
    assert pending(jobs, visualize=True) == [j for j in jobs if j.photo.name == "broken.jpg"]
    assert len(pending(jobs, overwrite=True)) == 3


def test_a_job_is_done_only_when_every_output_exists(tmp_path):
    job = Job(tmp_path / "a.png", tmp_path / "out" / "a.png")
    assert not job.is_done()
    write_atomically(job.target, b"{}")
    assert job.is_done() and not job.is_done(visualize=True)
    assert not Job(tmp_path / "a.png", None).is_done()  # printed, never written


def test_a_pipeline_spec_is_small_picklable_and_builds_the_same_pipeline_elsewhere(tmp_path):
    # The default detector's lines, left whole, cut by the pipeline's own splitter.
    lines = tmp_path / "lines.py"
    default = REPO / "detector_configs" / "default.py"
    lines.write_text(f"_base_ = [{str(default)!r}]\nmodel = dict(word_splitter=None)\n")
    spec = PipelineSpec(
        detector=str(lines),
        recognizer="default",
        min_confidence=0.2,
        split_words={"method": "ink", "min_gap": 0.2},
    )
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert len(pickle.dumps(spec)) < 2000
    pipeline = OCRPipeline.from_spec(spec)
    assert pipeline.spec == spec and pipeline.min_confidence == 0.2
    assert pipeline.word_splitter.min_gap == 0.2
    photo = DATA / "icdar2015_dev_scenes" / "images" / "img_26.jpg"
    rebuilt = OCRPipeline.from_spec(pickle.loads(pickle.dumps(spec)))
    assert rebuilt.ocr(photo).to_dict() == pipeline.ocr(photo).to_dict()


def test_ready_stages_leave_no_spec_to_rebuild_from():
    assert OCRPipeline(OneBoxDetector(), WidthReader()).spec is None


def test_jobs_keep_relative_paths_and_refuse_two_photos_for_one_output(tmp_path):
    for name in ("a/x.jpg", "a/sub/y.png", "b/x.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    out = tmp_path / "out"
    jobs = plan_jobs([tmp_path / "a", tmp_path / "a" / "x.jpg"], out)  # x.jpg only once
    assert [(j.photo, j.target) for j in jobs] == [
        (tmp_path / "a" / "sub" / "y.png", out / "sub" / "y.png.json"),
        (tmp_path / "a" / "x.jpg", out / "x.jpg.json"),
    ]
    assert [j.target for j in plan_jobs([tmp_path / "b" / "x.jpg"], None)] == [None]
    inside = tmp_path / "a" / "results"
    (inside / "x.jpg.overlay.jpg").parent.mkdir()
    (inside / "x.jpg.overlay.jpg").write_bytes(b"")
    assert len(plan_jobs([tmp_path / "a"], inside)) == 2  # its own overlays are not photos
    with pytest.raises(ValueError, match="both be written to"):
        plan_jobs([tmp_path / "a", tmp_path / "b"], out)


def test_atomic_writes_leave_files_with_a_new_files_mode(tmp_path):
    target = tmp_path / "deep" / "photo.jpg.json"
    write_atomically(target, b"{}")
    reference = tmp_path / "plain.json"
    reference.write_bytes(b"{}")
    assert target.read_bytes() == b"{}"
    assert oct(os.stat(target).st_mode & 0o777) == oct(os.stat(reference).st_mode & 0o777)
    assert [p.name for p in target.parent.iterdir()] == ["photo.jpg.json"]  # no temp file left


def test_formats_added_later_come_from_the_recorded_json_without_the_models(photos, tmp_path):
    from pipeline.batch import to_read
    from pipeline.formats import FORMATS

    out = tmp_path / "out"
    jobs = plan_jobs([photos], out)
    run_jobs(OCRPipeline(OneBoxDetector(), WidthReader()), jobs)
    more = [FORMATS["json"], FORMATS["tsv"], FORMATS["alto"]]
    assert [j.photo.name for j in to_read(jobs, formats=more)] == ["broken.jpg"]
    good = [job for job in jobs if job.photo.name != "broken.jpg"]

    def no_models():
        raise AssertionError("no photo needs reading: the models must not be built")

    report = run_jobs(no_models, good, formats=more)
    assert (report.read, report.completed, report.ok) == (0, 2, True)
    recorded = OCRResult.from_json((out / "a.png.json").read_text())
    assert (out / "a.png.tsv").read_bytes() == recorded.to("tsv")
    assert len(to_read(jobs, overwrite=True, formats=more)) == 3
