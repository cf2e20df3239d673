// Connectors: live MQTT / OPC UA sources with their runner's status, added and tested here,
// switched on and off, and what they recently refused (with the reason).
import { useState } from "react";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { fieldOf } from "../components/forms.jsx";
import { Empty, ErrorBox, Loading, useApi } from "../components/ui.jsx";

const LIVE_MS = 5000;

function Rejects({ connectorId }) {
  const { t, when } = useI18n();
  const rejects = useApi(`/api/connectors/${connectorId}/rejects?limit=10`, LIVE_MS);
  if (rejects.error) return <ErrorBox error={rejects.error} />;
  if (!rejects.data) return <Loading />;
  return (
    <div data-testid="rejects">
      <h3>{t("connectors.rejects")}</h3>
      {rejects.data.length === 0 ? <p className="muted small">{t("connectors.no_rejects")}</p> : (
        <table className="table small">
          <tbody>
            {rejects.data.map((r) => (
              <tr key={r.id} data-testid="reject">
                <td>{when(new Date(r.received_us / 1000).toISOString())}</td>
                <td className="mono">{r.topic}</td>
                <td data-testid="reject-reason">{r.reason}</td>
                <td className="mono muted">{(r.excerpt || "").slice(0, 80)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Status({ connector }) {
  const { t, when, number } = useI18n();
  const s = connector.status || {};
  if (!connector.heartbeat_at) return <p className="muted small" data-testid="connector-status">{t("connectors.never_ran")}</p>;
  const connected = Boolean(s.source?.connected);
  const error = s.source?.last_error || s.last_error;
  return (
    <div data-testid="connector-status">
      <span className={connected ? "badge good" : "badge bad"} data-testid="connected">
        {connected ? t("connectors.connected") : t("connectors.not_connected")}
      </span>{" "}
      <span className="small muted">
        {t("connectors.last_beat", { time: when(connector.heartbeat_at) })}
        {s.last_received_at
          ? ` · ${t("connectors.last_message", { time: when(new Date(s.last_received_at * 1000).toISOString()) })}`
          : ""}
      </span>
      <p className="small" data-testid="counts">
        {t("connectors.counts", { received: number(s.received || 0), readings: number(s.readings || 0), rejected: number(s.rejected || 0) })}
      </p>
      {error && <p className="small bad">{t("connectors.last_error", { error })}</p>}
    </div>
  );
}

function ConnectorCard({ connector, reload }) {
  const { t } = useI18n();
  const [error, setError] = useState(null);
  const where = connector.kind === "mqtt"
    ? `${connector.config.host}:${connector.config.port} · ${(connector.config.topics || []).map((r) => r.filter).join(", ")}`
    : connector.config.endpoint;
  const toggle = async () => {
    setError(null);
    try {
      await api(`/api/connectors/${connector.id}`, { method: "PATCH", body: { enabled: !connector.enabled } });
      reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <article className="card" data-testid="connector" data-name={connector.name}>
      <h2>
        {connector.name} <span className="badge">{connector.kind === "mqtt" ? "MQTT" : "OPC UA"}</span>{" "}
        <span className={connector.enabled ? "badge good" : "badge"} data-testid="enabled">
          {connector.enabled ? t("connectors.enabled") : t("connectors.disabled")}
        </span>
      </h2>
      <p className="mono small">{where}</p>
      <Status connector={connector} />
      <button className="link" onClick={toggle} data-testid="toggle">
        {connector.enabled ? t("connectors.disable") : t("connectors.enable")}
      </button>
      <ErrorBox error={error} />
      <Rejects connectorId={connector.id} />
    </article>
  );
}

const MQTT_START = { host: "", port: "1883", client_id: "", username: "", password: "", tls: false, filter: "", asset: "", asset_level: "", format: "json", channels: "" };
const OPCUA_START = { endpoint: "opc.tcp://", username: "", password: "", publishing_interval_ms: "100", node_id: "", asset: "", channel: "" };

/** The connector configuration the API's schema takes, from the form's values. */
function configOf(kind, v) {
  const opt = (x) => (x === "" ? undefined : x);
  if (kind === "mqtt") {
    const rule = { filter: v.filter, format: v.format };
    if (v.asset_level !== "") rule.asset_level = Number(v.asset_level);
    else rule.asset = v.asset;
    if (v.format === "binary") rule.channels = v.channels.split(",").map((c) => c.trim()).filter(Boolean);
    return {
      host: v.host, port: Number(v.port), client_id: v.client_id, username: opt(v.username),
      password: opt(v.password), tls: v.tls, topics: [rule],
    };
  }
  return {
    endpoint: v.endpoint, username: opt(v.username), password: opt(v.password),
    publishing_interval_ms: Number(v.publishing_interval_ms),
    tags: [{ node_id: v.node_id, asset: v.asset, channel: v.channel }],
  };
}

function NewConnector({ onDone }) {
  const { t } = useI18n();
  const [kind, setKind] = useState("mqtt");
  const [name, setName] = useState("");
  const [values, setValues] = useState(MQTT_START);
  const [error, setError] = useState(null);
  const [tested, setTested] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setValues({ ...values, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const switchKind = (k) => {
    setKind(k);
    setValues(k === "mqtt" ? MQTT_START : OPCUA_START);
    setError(null);
    setTested(null);
  };
  const names = ["name", ...Object.keys(values)];
  const bad = error ? fieldOf(error, names) : tested && !tested.ok ? fieldOf({ field: tested.field }, names) : null;
  const field = (k, label, props = {}) => (
    <label key={k} className={bad === k ? "field invalid" : "field"}>
      <span>{label}</span>
      {props.type === "checkbox" ? (
        <input name={k} type="checkbox" checked={values[k]} onChange={set(k)} />
      ) : props.options ? (
        <select name={k} value={values[k]} onChange={set(k)}>
          {props.options.map((o) => <option key={o}>{o}</option>)}
        </select>
      ) : (
        <input name={k} value={values[k]} onChange={set(k)} placeholder={props.placeholder} type={props.type || "text"} />
      )}
      {bad === k && (
        <span className="field-error" role="alert" data-testid="field-error">{error ? error.message : tested.reason}</span>
      )}
    </label>
  );
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    setTested(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const test = () => run(async () => {
    setTested(await api("/api/connectors/test", { method: "POST", body: { kind, config: configOf(kind, values) } }));
  });
  const save = (e) => {
    e.preventDefault();
    run(async () => {
      await api("/api/connectors", { method: "POST", body: { name, kind, config: configOf(kind, values) } });
      setName("");
      setValues(kind === "mqtt" ? MQTT_START : OPCUA_START);
      onDone();
    });
  };
  return (
    <article className="card">
      <h2>{t("connectors.add")}</h2>
      <form className="addform" onSubmit={save} noValidate data-testid="new-connector">
        <label className="field">
          <span>{t("connectors.kind")}</span>
          <select name="kind" value={kind} onChange={(e) => switchKind(e.target.value)}>
            <option value="mqtt">MQTT</option>
            <option value="opcua">OPC UA</option>
          </select>
        </label>
        <label className={bad === "name" ? "field invalid" : "field"}>
          <span>{t("connectors.name")}</span>
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="press-line" />
          {bad === "name" && <span className="field-error" role="alert" data-testid="field-error">{error.message}</span>}
        </label>
        {kind === "mqtt" ? (
          <>
            {field("host", t("connectors.host"), { placeholder: "broker.plant.local" })}
            {field("port", t("connectors.port"), { type: "number" })}
            {field("client_id", t("connectors.client_id"), { placeholder: "dure-line1" })}
            {field("username", t("connectors.username"))}
            {field("password", t("connectors.password"), { type: "password" })}
            {field("tls", t("connectors.tls"), { type: "checkbox" })}
            {field("filter", t("connectors.topic"), { placeholder: "plant/line1/+/data" })}
            {field("asset", t("connectors.asset"), { placeholder: "press7" })}
            {field("asset_level", t("connectors.asset_level"), { type: "number", placeholder: "2" })}
            {field("format", t("connectors.format"), { options: ["json", "binary"] })}
            {values.format === "binary" && field("channels", t("connectors.channels"), { placeholder: "force, stroke" })}
          </>
        ) : (
          <>
            {field("endpoint", t("connectors.endpoint"))}
            {field("username", t("connectors.username"))}
            {field("password", t("connectors.password"), { type: "password" })}
            {field("publishing_interval_ms", t("connectors.interval"), { type: "number" })}
            {field("node_id", t("connectors.node_id"), { placeholder: "ns=2;s=Press7.Force" })}
            {field("asset", t("connectors.asset"), { placeholder: "press7" })}
            {field("channel", t("connectors.channel"), { placeholder: "force" })}
          </>
        )}
        <button type="button" onClick={test} disabled={busy} data-testid="test-connection">
          {busy ? t("connectors.testing") : t("connectors.test")}
        </button>
        <button type="submit" disabled={busy} data-testid="save-connector">{t("connectors.save")}</button>
      </form>
      {tested && (
        <p className={tested.ok ? "ok" : "bad"} data-testid="test-result">
          {tested.ok ? t("connectors.test_ok", { s: tested.seconds }) : t("connectors.test_failed", { reason: tested.reason })}
        </p>
      )}
      {error && !bad && <ErrorBox error={error} />}
    </article>
  );
}

export default function Connectors() {
  const { t } = useI18n();
  const { can } = useAuth();
  const connectors = useApi(can("engineer") ? "/api/connectors?limit=200" : null, LIVE_MS);
  if (!can("engineer")) return <Empty>{t("connectors.only_engineer")}</Empty>;
  return (
    <section>
      <h1 data-testid="page-title">{t("connectors.title")}</h1>
      {connectors.error && <ErrorBox error={connectors.error} onRetry={connectors.reload} />}
      {!connectors.data ? (!connectors.error && <Loading />) : connectors.data.items.length === 0 ? (
        <Empty>{t("connectors.none")}</Empty>
      ) : (
        <div className="cards">
          {connectors.data.items.map((c) => <ConnectorCard key={c.id} connector={c} reload={connectors.reload} />)}
        </div>
      )}
      <NewConnector onDone={connectors.reload} />
    </section>
  );
}
