// The supplier's "what we shared": root-cause requests received, the exact JSON that left,
// answers waiting for an admin's review, and how each root_cause grant answers.
import { useState } from "react";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { Empty, ErrorBox, Loading, useApi } from "../components/ui.jsx";

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 1);
  } catch {
    return text;
  }
}

function Budget({ b }) {
  const { t, when } = useI18n();
  if (!b) return null;
  return (
    <span data-testid="shared-budget">
      {t("shared.budget_left", b)}
      {b.next_at && <span className="muted small"> · {t("shared.budget_next", { when: when(b.next_at) })}</span>}
    </span>
  );
}

function Delivery({ d }) {
  const { t, when } = useI18n();
  if (!d?.state) return null;
  let text;
  if (d.state === "delivered") text = t("shared.delivery_delivered", { when: when(d.delivered_at) });
  else if (d.state === "stopped") text = t("shared.delivery_stopped");
  else if (d.failing_since)
    text = t("shared.delivery_unreachable", { since: when(d.failing_since), next: when(d.next_at) });
  else text = t("shared.delivery_pending");
  return (
    <p className={`small ${d.state === "delivered" ? "muted" : ""}`} data-testid="shared-delivery">
      {text}
      {d.state === "pending" && d.error && (
        <span className="muted">
          {" "}
          · {t("shared.delivery_error")}: {d.error}
        </span>
      )}
    </p>
  );
}

function Grants({ grants, onChange }) {
  const { t } = useI18n();
  const { can } = useAuth();
  const [error, setError] = useState(null);
  const toggle = (g) =>
    api(`/api/grants/${g.id}/review-before-send`, {
      method: "PUT",
      body: { review_before_send: !g.review_before_send },
    })
      .then(onChange)
      .catch(setError);
  if (grants.length === 0) return <Empty>{t("shared.no_grants")}</Empty>;
  return (
    <>
      <table className="table" data-testid="shared-grants">
        <thead>
          <tr>
            <th>{t("shared.grantee")}</th>
            <th>{t("shared.mode")}</th>
            <th>{t("shared.budget")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {grants.map((g) => (
            <tr key={g.id}>
              <td>{g.grantee}</td>
              <td data-testid="shared-mode">
                {g.revoked_at
                  ? t("shared.revoked")
                  : t(g.review_before_send ? "shared.mode_review" : "shared.mode_auto")}
              </td>
              <td>{!g.revoked_at && <Budget b={g.budget} />}</td>
              <td>
                {can("admin") && !g.revoked_at && (
                  <button className="link" onClick={() => toggle(g)} data-testid="shared-toggle">
                    {t(g.review_before_send ? "shared.use_auto" : "shared.use_review")}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && <ErrorBox error={error} />}
    </>
  );
}

function Received({ r, onChange }) {
  const { t, when } = useI18n();
  const { can } = useAuth();
  const [error, setError] = useState(null);
  const decide = (what) =>
    api(`/api/root-cause/requests/${r.id}/${what}`, { method: "POST" }).then(onChange).catch(setError);
  const pending = r.status === "pending_review";
  const badge = r.status === "answered" ? "good" : r.status === "pending_review" ? "" : "bad";
  return (
    <article className="card" data-testid={pending ? "shared-pending" : "shared-row"}>
      <header>
        {t("shared.from")} <strong>{r.partner}</strong> · {t("shared.asked")}{" "}
        {[...r.lots, ...r.serials].join(", ")} {r.defect_type && `(${r.defect_type})`}{" "}
        <span className={`badge ${badge}`}>{t(`rc.status.${r.status}`)}</span>{" "}
        <span className="muted small">{when(r.created_at)}</span>
      </header>
      {r.reason && (
        <p className="small">
          {t("rc.reason")}: {r.reason}
        </p>
      )}
      <Delivery d={r.delivery} />
      {r.repeat_of && <p className="small muted">{t("shared.repeat")}</p>}
      {r.answer_text && (
        <details open={pending}>
          <summary>{t(pending ? "shared.json_waiting" : "shared.json")}</summary>
          <pre className="json small" data-testid="shared-json">
            {pretty(r.answer_text)}
          </pre>
        </details>
      )}
      {pending && can("admin") && (
        <p>
          <button onClick={() => decide("approve")} data-testid="shared-approve">
            {t("shared.approve")}
          </button>{" "}
          <button className="link" onClick={() => decide("decline")} data-testid="shared-decline">
            {t("shared.decline")}
          </button>
        </p>
      )}
      {error && <ErrorBox error={error} />}
    </article>
  );
}

export default function SharedAnswers() {
  const { t } = useI18n();
  const { data, error, reload } = useApi("/api/dashboard/root-cause");
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const pending = data.shared.filter((r) => r.status === "pending_review");
  const rest = data.shared.filter((r) => r.status !== "pending_review");
  return (
    <section>
      <h1>{t("shared.title")}</h1>
      <p className="muted small">{t("shared.lead")}</p>
      <h2>{t("shared.grants")}</h2>
      <Grants grants={data.grants_given} onChange={reload} />
      {pending.length > 0 && (
        <>
          <h2>
            {t("shared.pending")} ({pending.length})
          </h2>
          {pending.map((r) => (
            <Received key={r.id} r={r} onChange={reload} />
          ))}
        </>
      )}
      <h2>{t("shared.received")}</h2>
      {rest.length === 0 ? (
        <Empty>{t("shared.none")}</Empty>
      ) : (
        rest.map((r) => <Received key={r.id} r={r} onChange={reload} />)
      )}
    </section>
  );
}
