// Alerts: filter by status, kind and severity; acknowledge and close; each links to the
// chart or image that raised it.
import { useCallback, useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { useLiveEvents } from "../live.js";
import { Empty, ErrorBox, Loading } from "../components/ui.jsx";

// Alerts are pushed (server-sent events); this slow poll only keeps the list fresh should
// the event stream be cut, and picks up acknowledgements made elsewhere.
const REFRESH_MS = 30000;
const STATUSES = ["open", "acknowledged", "closed"];
const KINDS = ["spc_rule", "predicted_defect", "machine_anomaly", "parity"];
const SEVERITIES = ["critical", "warning", "info"];

/** Where an alert leads: the server's `link`, else one worked out from what raised it. */
export function alertLink(alert) {
  if (alert.link) return alert.link;
  if (alert.kind === "machine_anomaly" && alert.subject_id) return `/machines/${alert.subject_id}`;
  return null;
}

function Filter({ label, value, onChange, options, testid }) {
  const { t } = useI18n();
  return (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testid}>
        <option value="">{t("alerts.all")}</option>
        {options.map(([v, text]) => <option key={v} value={v}>{text}</option>)}
      </select>
    </label>
  );
}

export default function Alerts() {
  const { t, when } = useI18n();
  const word = (prefix, value) => {
    const said = t(`${prefix}.${value}`);
    return said === `${prefix}.${value}` ? value : said; // a value this page has no word for
  };
  const { can } = useAuth();
  const [status, setStatus] = useState("");
  const [kind, setKind] = useState("");
  const [severity, setSeverity] = useState("");
  const [state, setState] = useState({ data: null, error: null });
  const [actionError, setActionError] = useState(null);
  const tick = useRef(0);

  const query = new URLSearchParams({ limit: "200" });
  if (status) query.set("status", status);
  if (kind) query.set("kind", kind);
  if (severity) query.set("severity", severity);
  const path = `/api/alerts?${query}`;

  // The one place the list is (re)loaded: on a filter change, when an alert is pushed,
  // after an action, and every 30 s.
  const reload = useCallback(async () => {
    const mine = ++tick.current;
    try {
      const data = await api(path);
      if (mine === tick.current) setState({ data, error: null });
    } catch (error) {
      if (mine === tick.current) setState((s) => ({ ...s, error }));
    }
  }, [path]);

  useEffect(() => {
    reload();
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);

  useLiveEvents(["alert"], reload, 150);

  const act = async (id, verb) => {
    setActionError(null);
    try {
      await api(`/api/alerts/${id}/${verb}`, { method: "POST" });
    } catch (err) {
      setActionError(err);
    }
    reload();
  };

  const items = state.data?.items || [];
  return (
    <section>
      <h1 data-testid="page-title">{t("alerts.title")}</h1>
      <div className="filters">
        <Filter label={t("alerts.status")} value={status} onChange={setStatus} testid="filter-status"
          options={STATUSES.map((s) => [s, t(`alerts.${s}`)])} />
        <Filter label={t("alerts.kind")} value={kind} onChange={setKind} testid="filter-kind"
          options={KINDS.map((k) => [k, t(`alerts.kind.${k}`)])} />
        <Filter label={t("alerts.severity")} value={severity} onChange={setSeverity} testid="filter-severity"
          options={SEVERITIES.map((s) => [s, t(`alerts.severity.${s}`)])} />
        <span className="muted small">{t("alerts.live")}{state.data ? ` · ${t("alerts.shown", { n: items.length })}` : ""}</span>
      </div>
      <ErrorBox error={state.error} onRetry={reload} />
      <ErrorBox error={actionError} />
      {!state.data ? (!state.error && <Loading />) : items.length === 0 ? (
        <Empty>{t("alerts.empty")}</Empty>
      ) : (
        <table className="table" data-testid="alerts">
          <thead>
            <tr>
              <th>{t("alerts.severity")}</th>
              <th>{t("alerts.kind")}</th>
              <th />
              <th>{t("alerts.first")} / {t("alerts.last")}</th>
              <th>{t("alerts.status")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((a) => {
              const link = alertLink(a);
              return (
                <tr key={a.id} data-testid="alert" data-id={a.id} data-status={a.status}>
                  <td className={`sev-${a.severity}`}>{word("alerts.severity", a.severity)}</td>
                  <td>{word("alerts.kind", a.kind)}</td>
                  <td>
                    <div>{a.message}</div>
                    <div className="muted small">
                      {a.rule} <span data-testid="alert-count">{t("alerts.count", { n: a.count })}</span>
                      {link && <> · <Link to={link} data-testid="alert-link">{t("alerts.open_link")}</Link></>}
                    </div>
                  </td>
                  <td className="small">{when(a.first_at)}<br />{when(a.last_at)}</td>
                  <td className={`status-${a.status}`} data-testid="alert-status">{t(`alerts.${a.status}`)}</td>
                  <td>
                    {can("operator") && a.status === "open" && (
                      <button className="link" data-testid="acknowledge" onClick={() => act(a.id, "acknowledge")}>{t("alerts.acknowledge")}</button>
                    )}
                    {can("operator") && a.status !== "closed" && (
                      <button className="link" data-testid="close" onClick={() => act(a.id, "close")}>{t("alerts.close")}</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
