"""Results forwarded by edge boxes: verified, checked, and kept once each.

A box posts up to ``MAX_RESULTS_PER_POST`` results, signed with its own key. The
signature is checked first (401, nothing stored, the refusal audited); then each result
on its own: a bad field, an unknown or unusable model, or an undecodable image refuses
that result only, naming the field. Results already kept (the same ``rid`` sent again,
after a lost answer or a restart of the box) answer ``duplicate`` with the record made
the first time. The verdict, score and defect type are the box's (it decided on the
line); the heat-map and its regions are recomputed here from the box's raw anomaly map.
Everything one post keeps is written in one transaction, and no transaction is open
while images are decoded and heat-maps drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from dure.collab.signing import PeerRefused, SignedRequest
from dure.domain.edge import MAX_RESULTS_PER_POST, EdgeDevice, EdgeResult, source_key
from dure.domain.model_versions import ModelVersion
from dure.domain.users import Caller, Role
from dure.errors import Conflict, DureError, Forbidden, InvalidInput, NotFound
from dure.ingest.images import check_image, safe_filename
from dure.models.vision.heatmaps import overlay_png
from dure.models.vision.inspector import Finding
from dure.models.vision.pixels import heat_at
from dure.models.vision.regions import find_regions
from dure.services.collaboration.context import audit_refusal
from dure.services.edge_site.context import EdgeSite
from dure.services.inspection.inspect import usable_model
from dure.services.inspection.records import (
    Placement,
    check_placement,
    save_inspected,
    store_blob,
)
from dure.store.session import Session

RESULTS_PATH = "/api/edge/v1/results"
STORED, DUPLICATE, REFUSED = "stored", "duplicate", "refused"


@dataclass
class _Item:
    """One posted result on its way: parsed, then placed, then drawn, then kept."""

    index: int
    rid: str | None
    result: EdgeResult | None = None
    model: ModelVersion | None = None
    part_id: str | None = None
    level: float | None = None
    status: str | None = None
    inspection_id: str | None = None
    reason: str | None = None
    media_type: str = ""
    finding: Finding | None = None
    heatmap_png: bytes = b""

    def refuse(self, exc: DureError) -> None:
        self.status, self.reason = REFUSED, exc.detail

    def answer(self) -> dict[str, Any]:
        return {
            "rid": self.rid,
            "status": self.status,
            "inspection_id": self.inspection_id,
            "reason": self.reason,
        }


def verify_post(
    site: EdgeSite, caller: Caller, method: str, path: str, headers: dict[str, str], body: bytes
) -> EdgeDevice:
    """The caller's edge box that signed this post; Unauthenticated (audited) when the
    signature is missing, stale or wrong, or names a box that is not the caller's."""
    sender = None
    try:
        signed = SignedRequest.from_headers(method, path, headers, body)
        sender = signed.sender
        signed.check_time()
        with site.store.session(caller, read_only=True) as session:
            device = session.edge_devices.own_device(signed.sender)
        if device is None:
            raise PeerRefused(f"edge box {signed.sender!r} is not registered with your site")
        if signed.receiver != caller.org_id:
            raise PeerRefused("the post was signed for another organisation")
        signed.verify(device.public_pem)
        if device.retired_at is not None:
            raise PeerRefused(
                f"edge box {device.id!r} was retired at {device.retired_at.isoformat()}: "
                "its results are no longer taken"
            )
    except PeerRefused as exc:
        audit_refusal(site.store, caller.org_id, "edge_result", exc.reason, {"edge_id": sender})
        raise
    return device


def _parse(body: bytes, device: EdgeDevice) -> list[_Item]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body", "is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be an object with edge_id and results")
    if data.get("edge_id") != device.id:
        raise InvalidInput("edge_id", "must be the id of the box that signed the post")
    results = data.get("results")
    if not isinstance(results, list) or not 1 <= len(results) <= MAX_RESULTS_PER_POST:
        raise InvalidInput("results", f"must be a list of 1 to {MAX_RESULTS_PER_POST} results")
    items = []
    for index, raw in enumerate(results):
        rid = raw.get("rid") if isinstance(raw, dict) else None
        item = _Item(index, rid if isinstance(rid, str) else None)
        try:
            item.result = EdgeResult.from_wire(raw, index)
            item.rid = item.result.rid
        except InvalidInput as exc:
            item.refuse(exc)
        items.append(item)
    return items


def _model_for(session: Session, device: EdgeDevice, item: _Item) -> None:
    """The item's model, checked usable and the box's own (now or before: a model of the
    same part), and the part its record belongs to."""
    assert item.result is not None
    field = f"results[{item.index}].model_version_id"
    try:
        model = usable_model(session, item.result.model_version_id)
    except (NotFound, Conflict) as exc:  # unknown, not an inspection model, not ready
        raise InvalidInput(field, exc.detail) from exc
    own = model.org_id == session.caller.org_id
    part_id = device.part_id or (model.part_id if own else None)
    if part_id is None:
        raise InvalidInput(field, "the box has no part: assign it one")
    if model.id != device.model_version_id and not (own and model.part_id == part_id):
        raise InvalidInput(field, f"model {model.id} was never this box's (part {part_id})")
    placement = Placement(part_id=part_id, station_id=device.station_id)
    try:
        check_placement(session, part_id, placement)
    except InvalidInput as exc:
        raise InvalidInput(field, f"the box's placement is refused: {exc.detail}") from exc
    level = model.card.get("map_level")
    item.model, item.part_id = model, part_id
    item.level = float(level) if isinstance(level, int | float) and level > 0 else None


def _draw(site: EdgeSite, item: _Item) -> None:
    """Decode the image and draw the heat-map, its regions and its picture (no store)."""
    assert item.result is not None and item.model is not None
    result = item.result
    field = f"results[{item.index}].image_b64"
    try:
        name = safe_filename(result.image_filename)
    except InvalidInput as exc:
        raise InvalidInput(f"results[{item.index}].image_filename", exc.reason) from exc
    limits = site.limits
    try:
        image = check_image(
            result.image, name, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels
        )
    except InvalidInput as exc:
        raise InvalidInput(field, exc.detail) from exc
    level = item.level
    if level is None:  # a model taught before its card kept the map level
        level = site.inspectors.get(item.model.blob_sha256 or "").map_level
    raw = np.frombuffer(result.map_bytes, dtype="<f4").reshape(result.map_shape)
    heat = heat_at(raw, level, image.height, image.width)
    item.finding = Finding(
        score=result.score,
        threshold=result.threshold,
        is_defect=result.is_defect,
        defect_type=result.defect_type if result.is_defect else None,
        type_confidence=result.type_confidence if result.is_defect else None,
        heatmap=heat,
        regions=find_regions(heat, result.is_defect),
    )
    item.media_type = image.media_type
    item.heatmap_png = overlay_png(image.pixels, heat, result.is_defect)


def _keep(session: Session, device: EdgeDevice, item: _Item) -> None:
    """Write one drawn item (its image, heat-map and record); a record another post of
    the same result wrote meanwhile makes it a duplicate."""
    assert item.result is not None and item.model is not None and item.finding is not None
    result = item.result
    key = source_key(device.id, result.rid)
    name = safe_filename(result.image_filename)
    sha = store_blob(session, result.image, item.media_type, name)
    placement = Placement(
        part_id=item.part_id, station_id=device.station_id, taken_at=result.taken_at
    )
    try:
        record = save_inspected(
            session,
            item.model,
            item.finding,
            item.heatmap_png,
            part_id=item.part_id or "",
            image_sha256=sha,
            placement=placement,
            serial=result.serial,
            source_key=key,
        )
    except Conflict:
        first = session.inspections.made_from([key]).get(key)
        if first is None:
            raise
        item.status, item.inspection_id = DUPLICATE, first.id
        return
    item.status, item.inspection_id = STORED, record.id


def receive_results(
    site: EdgeSite,
    caller: Caller,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Verify a box's signed post of results and keep each result once; the answer has
    one entry per posted result, in order: stored, duplicate (with the first record's
    id) or refused (with the reason, naming the field). A refused result is final."""
    if not caller.can(Role.OPERATOR):
        raise Forbidden(
            f"posting edge results needs the operator role or higher; you are {caller.role.value}"
        )
    device = verify_post(site, caller, method, path, headers, body)
    items = _parse(body, device)
    first_of: dict[str, _Item] = {}
    with site.store.session(caller, read_only=True) as session:
        keys = [source_key(device.id, i.rid) for i in items if i.result is not None]
        done = session.inspections.made_from(keys)
        for item in items:
            if item.result is None:
                continue
            earlier = done.get(source_key(device.id, item.result.rid))
            if earlier is not None:
                item.status, item.inspection_id = DUPLICATE, earlier.id
            elif item.result.rid in first_of:
                item.status = DUPLICATE  # sent twice in one post: answered with the first
            else:
                first_of[item.result.rid] = item
                try:
                    _model_for(session, device, item)
                except InvalidInput as exc:
                    item.refuse(exc)
    todo = [i for i in items if i.status is None]
    for item in todo:
        try:
            _draw(site, item)
        except InvalidInput as exc:
            item.refuse(exc)
    with site.store.session(caller) as session:
        for item in todo:
            if item.status is not None:
                continue
            try:
                _keep(session, device, item)
            except InvalidInput as exc:
                item.refuse(exc)
        stored = sum(1 for i in items if i.status == STORED)
        session.edge_devices.note_results(device.id, stored)
    for item in items:  # a rid sent twice in one post shares the first one's answer
        if item.status == DUPLICATE and item.inspection_id is None and item.rid in first_of:
            first = first_of[item.rid]
            item.inspection_id = first.inspection_id
            if first.status == REFUSED:
                item.status, item.reason = REFUSED, first.reason
    return {"results": [i.answer() for i in items]}
