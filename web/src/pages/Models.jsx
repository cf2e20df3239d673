// Model versions with their cards, lineage (OEM base → local version) and signature status.
import { Link, useParams } from "react-router-dom";
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

export default function Models() {
  const { t, when } = useI18n();
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
