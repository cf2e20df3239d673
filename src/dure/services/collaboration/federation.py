"""Federated rounds between an OEM's install and its suppliers' installs, run with Flower.

The OEM starts a round on one of its inspection models that has a defect-type head. Each
supplier that granted MODEL_UPDATES for the part embeds its own labelled defect images
locally and runs a Flower client; only the head's weights travel. When the server has
aggregated the last round, the OEM's install writes the next version (same memory bank,
federated head), records the round on its card and publishes it as a signed package.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from dure.collab.flower import (
    RoundSettings,
    start_client,
    start_server,
    write_head,
    write_local_data,
)
from dure.collab.peer_client import PartnerUnreachable
from dure.domain.collab import FederatedRound, RoundStatus
from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.model_versions import ModelVersion
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput
from dure.models.vision.defect_types import DefectTypeClassifier
from dure.models.vision.inspector import Inspector
from dure.ports import free_port
from dure.services.collaboration.context import Collab, audit_refusal
from dure.services.collaboration.shared_models import publish
from dure.services.inspection.inspect import usable_model
from dure.services.inspection.records import store_blob
from dure.services.inspection.teaching import add_derived_version, decode, labelled_of_part
from dure.services.platform.model_files import MEDIA_TYPE, model_bytes, unpack_to
from dure.store.session import Session

log = logging.getLogger(__name__)


def _participants(session: Session, part_number: str) -> list[str]:
    """Partner orgs whose MODEL_UPDATES grant (our mirror) for the part is in force."""
    grants = session.grants.held_in_force(GrantScope.MODEL_UPDATES)
    return sorted({g.grantor_org_id for g in grants if g.part_number in (None, part_number)})


def start_round(
    ctx: Collab,
    caller: Caller,
    version_id: str,
    settings: RoundSettings,
    participants: list[str] | None = None,
) -> FederatedRound:
    """Invite the suppliers, start the Flower server, finish in the background."""
    if not caller.can(Role.ENGINEER):
        raise Forbidden("starting a federated round needs the engineer role or higher")
    settings.check()
    with ctx.store.session(caller) as session:
        base = usable_model(session, version_id)
        if base.org_id != caller.org_id:
            raise Forbidden("federate your own organisation's model")
        part = session.parts.get(base.part_id or "")
        allowed = _participants(session, part.number)
        chosen = participants or allowed
        for org_id in chosen:
            if org_id not in allowed:
                raise InvalidInput(
                    "participants", f"{org_id} has no MODEL_UPDATES grant to you for {part.number}"
                )
        if not chosen:
            raise InvalidInput(
                "participants", f"no supplier granted you MODEL_UPDATES for part {part.number}"
            )
        partners = {p.partner_org_id: p for p in session.partners.list_all()}
    work = ctx.work_dir / "federated" / version_id
    work.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=work))
    unpack_to(ctx.store.blobs.get(base.blob_sha256 or ""), folder / "model")
    head = Inspector.load(folder / "model").classifier_
    if head is None:
        raise InvalidInput("model_id", "the model has no defect-type head to federate")
    round_ = FederatedRound(
        org_id=caller.org_id,
        base_version_id=base.id,
        part_id=base.part_id,
        settings=settings.__dict__,
    )
    port = int(ctx.flower.get("port") or free_port())
    bind = f"{ctx.flower.get('host', '127.0.0.1')}:{port}"
    advertise = ctx.flower.get("advertise") or bind
    invitation = {
        "round_id": round_.id,
        "address": advertise,
        "part_number": part.number,
        "classes": head.classes_,
        "embedding": head.get_params(),
        "settings": settings.__dict__,
    }
    # The server listens before anyone is invited: Flower clients give up on a closed port.
    write_head(folder / "initial.npz", head.coef_, head.intercept_)
    server = start_server(
        bind,
        folder / "initial.npz",
        folder / "final.npz",
        len(chosen),
        settings,
        folder / "server.log",
        ctx.flower.get("python"),
    )
    joined = []
    for org_id in chosen:
        try:
            answer = ctx.client(partners[org_id]).post("/peer/v1/federated-rounds", invitation)
            joined.append({"org_id": org_id, "joined": True, "examples": answer.get("examples")})
        except PartnerUnreachable as exc:
            joined.append({"org_id": org_id, "joined": False, "why": str(exc)})
    round_.participants = joined
    if not all(j["joined"] for j in joined):
        server.kill()
        round_.status = RoundStatus.FAILED
        round_.outcome = {"why": "not every invited supplier joined; start again without it"}
    with ctx.store.session(caller) as session:
        session.rounds.add(round_)
    if round_.status == RoundStatus.FAILED:
        return round_
    threading.Thread(
        target=_finish,
        args=(ctx, caller, round_.id, base, folder, server),
        daemon=True,
        name=f"federated-{round_.id}",
    ).start()
    return round_


def _finish(
    ctx: Collab, caller: Caller, round_id: str, base: ModelVersion, folder: Path, server: Any
) -> None:
    try:
        code = server.wait(3600)
        final = folder / "final.npz"
        if code != 0 or not final.exists():
            raise RuntimeError(f"the Flower server exited {code}; see {folder / 'server.log'}")
        history = (folder / "final.json").read_text()
        inspector = Inspector.load(folder / "model")
        if inspector.classifier_ is None:
            raise RuntimeError("the base model lost its defect-type head")
        with np.load(final) as weights:
            inspector.classifier_.set_arrays(
                {"head_coef": weights["w"], "head_intercept": weights["b"]}
            )
        packed = model_bytes(inspector, folder)
        with ctx.store.session(caller) as session:
            round_ = session.rounds.get(round_id)
            sha = store_blob(session, packed, MEDIA_TYPE, f"federated-{round_id}.tar")
            card = {
                **base.card,
                "lineage": {
                    "base_version_id": base.id,
                    "base_version": base.version,
                    "federated_round_id": round_id,
                },
                "federated": {
                    "round_id": round_id,
                    "participants": round_.participants,
                    "settings": round_.settings,
                    "history": json.loads(history),
                    "what_travelled": "defect-type head weights only",
                },
            }
            new = add_derived_version(session, base, sha, card)
        package = publish(ctx, caller, new.id)
        with ctx.store.session(caller) as session:
            session.rounds.update_fields(
                round_id,
                status=RoundStatus.DONE,
                new_version_id=new.id,
                finished_at=utcnow(),
                outcome={"package_id": package.id, "history": json.loads(history)},
            )
    except Exception as exc:  # noqa: BLE001 - the round must end in a state, whatever failed
        log.exception("federated round %s failed", round_id)
        with ctx.store.session(caller) as session:
            session.rounds.update_fields(
                round_id,
                status=RoundStatus.FAILED,
                finished_at=utcnow(),
                outcome={"why": str(exc)},
            )


def join_round(
    ctx: Collab, oem_caller: Caller, own_org_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    """A supplier's side: check our grant, embed our own images here, start our client."""
    oem = oem_caller.org_id
    try:
        part_number, classes = str(doc["part_number"]), list(doc["classes"])
        address, round_id = str(doc["address"]), str(doc["round_id"])
        embedding = dict(doc["embedding"])
        settings = RoundSettings(**doc["settings"])
        settings.check()
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("round", f"not a federated round invitation: {exc}") from None
    ctx.outbound.check(f"tcp://{address}", "round.address")
    as_us = Caller(org_id=own_org_id, user_id=None, role=Role.ENGINEER, org_kind="supplier")
    with ctx.store.session(as_us) as own:
        part = own.parts.own_by_number(part_number)
        grant = next(
            (
                g
                for g in own.grants.given_in_force(oem, GrantScope.MODEL_UPDATES)
                if part is not None and g.part_id in (None, part.id)
            ),
            None,
        )
    if grant is None or part is None:
        reason = f"no MODEL_UPDATES grant to {oem} for part {part_number} is in force here"
        audit_refusal(ctx.store, own_org_id, "federated_round", reason, {"round": round_id})
        raise Forbidden(reason)
    part_id = part.id
    with ctx.store.session(as_us) as own:
        images = [i for i in labelled_of_part(own, part_id) if i["label"] in classes]
    if len(images) < 2:
        raise InvalidInput("images", f"no labelled defect images of {part_number} to train on")
    embedding["stages"] = tuple(embedding["stages"])
    model = DefectTypeClassifier(**embedding)
    views = model.embed_views([decode(ctx.store, i) for i in images])
    x = views.reshape(-1, views.shape[-1])
    y = np.array([classes.index(i["label"]) for i in images] * views.shape[0])
    work = ctx.work_dir / "federated-client" / round_id
    work.mkdir(parents=True, exist_ok=True)
    data = write_local_data(work / "local.npz", x, y)
    proc = start_client(
        address, data, settings, work / "client.log", python=ctx.flower.get("python")
    )
    threading.Thread(target=proc.wait, daemon=True).start()
    with ctx.store.session(as_us) as session:
        session.audit.record(
            "join",
            "federated_round",
            round_id,
            grant_id=grant.id,
            detail={"images": len(images), "oem": oem},
        )
    return {"joined": True, "examples": len(images)}
