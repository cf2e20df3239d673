// Model versions with their cards, lineage (OEM base → local version) and signature status.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { Empty, ErrorBox, Loading, useApi } from "../components/ui.jsx";

function Signature({ model }) {
  const { t } = useI18n();
  const { me } = useAuth();
  const pkg = model.card?.package;
  if (pkg) {
    const who = pkg.publisher?.name || pkg.signer;
    return <span className="badge good" data-testid="signature">✔ {t("models.signed_by", { who })}</span>;
  }
  if (model.org_id !== me.organisation.id) return <span className="badge">{t("models.base")}: {model.org_id.slice(0, 8)}</span>;
  return <span className="badge">{t("models.local")}</span>;
}

function Lineage({ model, byId }) {
  const { t } = useI18n();
  const chain = [];
  let cursor = model;
  const seen = new Set();
  while (cursor && !seen.has(cursor.id)) {
    seen.add(cursor.id);
    chain.push(cursor);
    cursor = cursor.base_version_id ? byId.get(cursor.base_version_id) || { id: cursor.base_version_id, name: "…", version: "?" } : null;
  }
  const publisher =
    model.card?.package?.publisher?.name || model.card?.shared_card?.publisher?.name || model.card?.lineage?.base_publisher?.name;
  return (
    <p className="lineage" data-testid="lineage">
      {t("models.lineage")}:{" "}
      {chain
        .reverse()
        .map((m) => `${m.name} v${m.version}`)
        .join(" → ")}
      {publisher && ` (${publisher})`}
    </p>
  );
}

function Card({ card }) {
  const { t, number, percent } = useI18n();
  const th = card.threshold || {};
  const adaptation = card.adaptation;
  return (
    <div className="model-card">
      <dl className="facts">
        {th.value != null && (
          <>
            <dt>{t("teach.threshold")}</dt>
            <dd>{number(th.value, 4)} ({th.method})</dd>
            <dt>{t("teach.far")}</dt>
            <dd>{percent(th.expected_false_alarm_rate)}</dd>
            <dt>{t("teach.miss")}</dt>
            <dd>{percent(th.expected_miss_rate)}</dd>
          </>
        )}
        {card.held_out_image_auroc != null && (
          <>
            <dt>{t("teach.auroc")}</dt>
            <dd>{number(card.held_out_image_auroc, 3)}</dd>
          </>
        )}
        {card.teaching && (
          <>
            <dt>teaching</dt>
            <dd>
              {card.teaching.good_images} good · {card.teaching.held_out_good_images} held out · {card.teaching.defect_images} defects
            </dd>
          </>
        )}
        {card.defect_types?.length > 0 && (
          <>
            <dt>defect types</dt>
            <dd>{card.defect_types.join(", ")}</dd>
          </>
        )}
        {adaptation && (
          <>
            <dt>adaptation</dt>
            <dd>
              {t("teach.far")} {percent(adaptation.before?.false_alarm_rate)} → {percent(adaptation.after?.false_alarm_rate)};{" "}
              {t("teach.miss")} {percent(adaptation.before?.miss_rate)} → {percent(adaptation.after?.miss_rate)}
            </dd>
          </>
        )}
      </dl>
      <details>
        <summary>{t("models.card")} (JSON)</summary>
        <pre>{JSON.stringify({ ...card, held_out_scores: card.held_out_scores ? "…" : undefined }, null, 1)}</pre>
      </details>
    </div>
  );
}

function ParityBadge({ parity }) {
  const { t } = useI18n();
  if (!parity) return <span className="badge" data-testid="package-parity" data-status="unchecked">{t("models.parity_unchecked")}</span>;
  const ok = parity.status === "ok";
  return (
    <span data-testid="package-parity" data-status={parity.status} title={parity.cause || ""}>
      <span className={`badge ${ok ? "good" : "bad"}`}>{t(ok ? "models.parity_ok" : "models.parity_mismatch")}</span>
      {!ok && parity.cause && <div className="small">{parity.cause}</div>}
    </span>
  );
}

// Packages: what we imported (with its parity on the golden set) and what organisations on
// this install shared with us under a grant, ready to import.
function Packages({ orgId, onImported }) {
  const { t } = useI18n();
  const packages = useApi("/api/packages?limit=200");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  if (!packages.data) return null;
  const items = packages.data.items;
  const importedFrom = new Set(items.filter((p) => p.org_id === orgId).map((p) => p.origin_id));
  const shared = items.filter(
    (p) => p.org_id !== orgId && p.role === "published" && !p.revoked_at && !importedFrom.has(p.id),
  );
  const imported = items.filter((p) => p.org_id === orgId && p.role === "imported");
  if (!shared.length && !imported.length) return null;
  const take = async (id) => {
    setBusy(id);
    setError(null);
    try {
      await api(`/api/packages/${encodeURIComponent(id)}/import`, { method: "POST" });
      packages.reload();
      onImported();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  return (
    <article className="card" data-testid="packages">
      <h2>{t("models.packages")}</h2>
      {error && <ErrorBox error={error} />}
      <table className="table">
        <thead>
          <tr>
            <th>{t("models.version")}</th>
            <th>{t("models.publisher")}</th>
            <th>{t("models.parity")}</th>
          </tr>
        </thead>
        <tbody>
          {imported.map((p) => (
            <tr key={p.id} data-testid="package-imported">
              <td>{p.card?.name} v{p.card?.version}</td>
              <td>{p.card?.publisher?.name}</td>
              <td>
                {p.revoked_at ? t("models.revoked") : p.card?.golden ? <ParityBadge parity={p.parity} /> : t("models.no_golden")}
              </td>
            </tr>
          ))}
          {shared.map((p) => (
            <tr key={p.id} data-testid="package-shared">
              <td>{p.card?.name} v{p.card?.version}</td>
              <td>{p.card?.publisher?.name}</td>
              <td>
                <button type="button" disabled={busy === p.id} onClick={() => take(p.id)} data-testid="import-package">
                  {t("models.import")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  );
}

export default function Models() {
  const { t, when } = useI18n();
  const { me } = useAuth();
  const { versionId } = useParams();
  const list = useApi("/api/model-versions?limit=200");
  const one = useApi(versionId ? `/api/model-versions/${encodeURIComponent(versionId)}` : null);
  if (list.error) return <ErrorBox error={list.error} onRetry={list.reload} />;
  if (!list.data) return <Loading />;
  const items = list.data.items;
  const byId = new Map(items.map((m) => [m.id, m]));
  return (
    <section>
      <h1>{t("models.title")}</h1>
      {versionId && one.error && <ErrorBox error={one.error} />}
      {versionId && one.data && (
        <article className="card" data-testid="model-detail">
          <h2>
            {one.data.name} v{one.data.version} <Signature model={one.data} />
          </h2>
          <Lineage model={one.data} byId={byId} />
          <Card card={one.data.card || {}} />
        </article>
      )}
      <Packages orgId={me.organisation.id} onImported={list.reload} />
      {items.length === 0 ? (
        <Empty>{t("models.empty")}</Empty>
      ) : (
        <table className="table" data-testid="models-table">
          <thead>
            <tr>
              <th>{t("models.version")}</th>
              <th>{t("models.status")}</th>
              <th>{t("models.signature")}</th>
              <th>{t("models.lineage")}</th>
              <th>{t("models.created")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.id} className={m.id === versionId ? "selected" : ""}>
                <td>
                  <Link to={`/models/${m.id}`}>{m.name} v{m.version}</Link>
                  <div className="small muted">{m.task}</div>
                </td>
                <td>{m.status}</td>
                <td><Signature model={m} /></td>
                <td className="small">{m.base_version_id ? `${t("models.base")} ${(byId.get(m.base_version_id)?.name || m.base_version_id.slice(0, 8))} v${byId.get(m.base_version_id)?.version ?? "?"}` : "—"}</td>
                <td className="small">{when(m.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
