"""The demo's shared model: Hanbit's base model, imported and adapted by Hanul on one install.

Hanbit teaches its door panel's inspection model from its own images and publishes it as a
signed package with a golden set (a few of its images it is willing to share); it grants
Hanul Stamping MODEL_USE for the part. Hanul imports the package on the same install (the
signature and the grant are checked as between installs), its install checks deployment
parity on the golden set, and Hanul adapts a local version on its own good images: the
Models page shows the lineage OEM base → supplier local version, and Hanul's KPI reports
carry the parity to Hanbit's scorecard.
"""

from __future__ import annotations

from pathlib import Path

from dure.collab.signing import KeyRing
from dure.domain.grants import GrantScope, ShareGrant
from dure.domain.organisations import Organisation
from dure.domain.parts import LabelledImage, PartNumber
from dure.domain.users import Role
from dure.services.collaboration import adaptation, shared_models
from dure.services.collaboration.context import Collab
from dure.services.demo.inspection_history import teach_demo_model, user_caller
from dure.services.demo.sheet_metal import DEFECT_TYPES, sheet_image
from dure.services.inspection.records import store_blob
from dure.services.platform.accounts import system_caller
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import InspectorCache
from dure.store.session import Store

SHARED_WITH = "hanul"  # the supplier that takes Hanbit's model in the demo
GOLDEN_IMAGES = 4
OEM_GOOD, OEM_PER_DEFECT = 24, 2


def _collab(store: Store, home: Path) -> Collab:
    return Collab(store, KeyRing(home / "keys"), "", home / "work")


def _runner(store: Store, home: Path) -> JobRunner:
    return JobRunner(store, home / "work", InspectorCache(store.blobs, home / "models"))


def publish_oem_model(
    store: Store, home: Path, oem: Organisation, part: PartNumber, seed: int
) -> dict[str, object]:
    """Hanbit's own images of ``part``, its model taught from them and published with a
    golden set; the package's id and what it holds."""
    labels = ["good"] * OEM_GOOD + [d for d in DEFECT_TYPES for _ in range(OEM_PER_DEFECT)]
    ids = []
    with store.session(system_caller(oem)) as s:
        for k, label in enumerate(labels):
            data = sheet_image(seed * 1000 + k, label).png()
            sha = store_blob(s, data, "image/png", f"hanbit-{k:03d}.png")
            image = s.labelled_images.add(
                LabelledImage(
                    org_id=oem.id,
                    part_id=part.id,
                    image_sha256=sha,
                    split="train" if label == "good" and k < OEM_GOOD - 6 else "test",
                    label=label,
                    source_name=f"hanbit-{k:03d}.png",
                )
            )
            ids.append(image.id)
    model_id = teach_demo_model(store, home, oem, part.id)
    golden = ids[OEM_GOOD - GOLDEN_IMAGES + 1 : OEM_GOOD] + [ids[OEM_GOOD]]  # 3 good, 1 defect
    engineer = user_caller(store, oem, Role.ENGINEER)
    package = shared_models.publish(
        _collab(store, home), engineer, model_id, golden, _runner(store, home).cache
    )
    return {"package_id": package.id, "model_id": model_id, "golden_images": len(golden)}


def share_with(store: Store, oem: Organisation, supplier: Organisation, part: PartNumber) -> None:
    """Hanbit's MODEL_USE grant of ``part``'s model to ``supplier``."""
    with store.session(system_caller(oem)) as s:
        s.grants.grant(
            ShareGrant(
                grantor_org_id=oem.id,
                grantee_org_id=supplier.id,
                scope=GrantScope.MODEL_USE,
                created_by=None,
                part_id=part.id,
                note="Hanbit's door-panel model for your line",
            )
        )


def take_shared_model(
    store: Store, home: Path, supplier: Organisation, package_id: str
) -> dict[str, object]:
    """The supplier imports the package, its install checks parity, and it adapts a local
    version on its own good images; ids and the parity outcome."""
    engineer = user_caller(store, supplier, Role.ENGINEER)
    ctx, runner = _collab(store, home), _runner(store, home)
    imported = shared_models.import_shared(ctx, engineer, package_id)
    with store.session(engineer) as s:
        checks = [j.id for j in s.jobs.list_all(subject_id=imported.id)]
    for job_id in checks:
        runner.run_next(job_id)
    with store.session(engineer) as s:
        job = adaptation.queue_adaptation(s, imported.model_version_id or "")
    runner.run_next(job.id)
    with store.session(engineer) as s:
        done = s.jobs.get(job.id)
        parity = s.packages.get(imported.id).parity or {}
    if done.status != "succeeded":
        raise RuntimeError(f"{supplier.slug} could not adapt the shared model: {done.error}")
    return {
        "package_id": imported.id,
        "imported_version_id": imported.model_version_id,
        "local_version_id": done.result["model_version_id"],
        "parity": parity.get("status"),
    }
