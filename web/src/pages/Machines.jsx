// Machines: health and remaining useful life of every machine; one machine's channel trends
// with their learned normal band and anomaly marks, its health index and alert history.
import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useI18n } from "../i18n.jsx";
import Chart from "../components/Chart.jsx";
import { Empty, ErrorBox, Loading, Stat, useApi } from "../components/ui.jsx";
import { AddForm } from "../components/forms.jsx";
import { api } from "../api.js";
import LiveChecks from "../components/LiveChecks.jsx";
import { useLiveEvents } from "../live.js";

const RED = "#c0392b";

/** "≈ 6 days (4–9)", "≈ 20 hours (15–31)", "not degrading", "at failure level". */
export function useRulText() {
  const { t, number } = useI18n();
  return (status, rul) => {
    if (status === "failed") return t("machines.rul_failed");
    if (!rul || rul.value == null) return status === "no data" ? "—" : t("machines.rul_none");
    const digits = rul.value < 10 ? 1 : 0;
    const unit = t(rul.unit === "days" ? "machines.days" : "machines.hours");
    const range = `${number(rul.low, digits)}–${rul.high == null ? "?" : number(rul.high, digits)}`;
    return `≈ ${number(rul.value, digits)} ${unit} (${range})`;
  };
}

function HealthBar({ value }) {
  if (value == null) return <span className="muted">—</span>;
  const colour = value >= 80 ? "#27ae60" : value >= 50 ? "#e67e22" : RED;
  return (
    <span className="health" data-testid="machine-health" data-value={value}>
      <span className="health-bar">
        <span style={{ width: `${value}%`, background: colour }} />
      </span>
      {value.toFixed(0)} %
    </span>
  );
}

function Drivers({ drivers }) {
  const { percent } = useI18n();
  if (!drivers?.length) return <span className="muted">—</span>;
  return (
    <span className="small">
      {drivers.map((d) => `${d.name} ${percent(d.share, 0)}`).join(" · ")}
    </span>
  );
}

/** One line: which model gave the remaining life. */
function RulSource({ source, model }) {
  const { t } = useI18n();
  return (
    <div className="small muted" data-testid="rul-source" data-source={source}>
      {source === "trained" && model
        ? t("machines.rul_from_trained", { n: model.histories })
        : t("machines.rul_from_index")}
    </div>
  );
}

const EVENT_KINDS = ["failure", "repair", "replacement"];

/** The machine's failures, repairs and replacements, a form to record one, and the
 * training of a remaining-life model for its kind. */
function MaintenanceEvents({ asset, events, onChange }) {
  const { t, when } = useI18n();
  const [training, setTraining] = useState(null);
  const [error, setError] = useState(null);
  const url = `/api/assets/${encodeURIComponent(asset.id)}/maintenance-events`;
  const record = (body) =>
    api(url, {
      method: "POST",
      body: { ...body, occurred_at: body.occurred_at ? new Date(body.occurred_at).toISOString() : undefined },
    });
  const remove = async (id) => {
    setError(null);
    try {
      await api(`${url}/${encodeURIComponent(id)}`, { method: "DELETE" });
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  const train = async () => {
    setError(null);
    setTraining(null);
    try {
      setTraining(await api(`/api/assets/${encodeURIComponent(asset.id)}/rul-model`, { method: "POST" }));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <article className="card" data-testid="maintenance-events">
      <h2>{t("maintenance.title")}</h2>
      {events.length === 0 ? (
        <Empty>{t("maintenance.none")}</Empty>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>{t("maintenance.occurred_at")}</th>
              <th>{t("maintenance.kind")}</th>
              <th>{t("maintenance.note")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id} data-testid="maintenance-event" data-kind={e.kind}>
                <td className="small">{when(e.occurred_at)}</td>
                <td className={e.kind === "failure" ? "bad" : ""}>{t(`maintenance.kind_${e.kind}`)}</td>
                <td className="small">{e.note}</td>
                <td>
                  <button type="button" className="link" onClick={() => remove(e.id)}>
                    {t("maintenance.delete")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <AddForm
        testid="new-maintenance-event"
        submitLabel={t("maintenance.record")}
        fields={[
          {
            name: "kind",
            label: t("maintenance.kind"),
            required: true,
            options: EVENT_KINDS.map((k) => [k, t(`maintenance.kind_${k}`)]),
          },
          { name: "occurred_at", label: t("maintenance.occurred_at"), type: "datetime-local", required: true },
          { name: "note", label: t("maintenance.note") },
        ]}
        onSubmit={record}
        onDone={onChange}
      />
      <p>
        <button type="button" onClick={train} data-testid="train-rul-model">
          {t("maintenance.train", { kind: asset.kind })}
        </button>
      </p>
      {training && <p className="ok small" role="status">{t("maintenance.training")}</p>}
      {error && <ErrorBox error={error} />}
    </article>
  );
}

// The machine page's heading, with the way back to the list (also while it has no health).
function MachineHeading({ name }) {
  const { t } = useI18n();
  return (
    <>
      <p className="small">
        <Link to="/machines">← {t("machines.title")}</Link>
      </p>
      <h1 data-testid="machine-name">{name}</h1>
    </>
  );
}

function MachineList() {
  const { t } = useI18n();
  const rulText = useRulText();
  const { data, error, reload } = useApi("/api/machines");
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  return (
    <section>
      <h1>{t("machines.title")}</h1>
      {data.machines.length === 0 ? (
        <Empty>{t("machines.none")}</Empty>
      ) : (
        <table className="table" data-testid="machines">
          <thead>
            <tr>
              <th>{t("machines.machine")}</th>
              <th>{t("machines.health")}</th>
              <th>{t("machines.rul")}</th>
              <th>{t("machines.drivers")}</th>
              <th>{t("overview.alerts")}</th>
            </tr>
          </thead>
          <tbody>
            {data.machines.map((m) => (
              <tr key={m.asset_id} data-testid="machine-row" data-status={m.status}>
                <td>
                  <Link to={`/machines/${m.asset_id}`}>{m.name}</Link>
                  <div className="small muted">{m.kind}</div>
                </td>
                <td>
                  <HealthBar value={m.health_percent} />
                  {m.problem && <div className="small muted">{t("machines.no_data")}</div>}
                </td>
                <td>
                  <span data-testid="machine-rul">{rulText(m.status, m.rul)}</span>
                  {m.rul_source && <RulSource source={m.rul_source} model={m.rul_model} />}
                </td>
                <td>
                  <Drivers drivers={m.drivers} />
                </td>
                <td className={m.open_alerts ? "bad" : ""}>{m.open_alerts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="small muted">{t("machines.how")}</p>
    </section>
  );
}

function ChannelChart({ channel, highlighted }) {
  const { t } = useI18n();
  const option = useMemo(
    () => ({
      grid: { left: 50, right: 20, top: 20, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "time" },
      yAxis: { type: "value", scale: true, name: channel.unit },
      series: [
        {
          name: channel.name,
          type: "line",
          data: channel.points,
          showSymbol: false,
          lineStyle: { width: 1.2, color: "#2c6fbb" },
          markArea: {
            silent: true,
            itemStyle: { color: "rgba(39, 174, 96, 0.15)" },
            data: [[{ yAxis: channel.band.low, name: t("machines.normal_band") }, { yAxis: channel.band.high }]],
          },
        },
        {
          name: t("machines.anomaly"),
          type: "scatter",
          data: channel.marks,
          symbolSize: 6,
          itemStyle: { color: RED },
        },
      ],
    }),
    [channel, t],
  );
  return (
    <article
      className={`card${highlighted ? " highlight" : ""}`}
      id={`channel-${channel.channel_id}`}
      data-testid="channel-card"
      data-channel={channel.name}
      data-marks={channel.marks.length}
    >
      <h2>
        {channel.name} <small className="muted">{channel.unit}</small>{" "}
        {channel.anomalies > 0 && (
          <span className="badge bad">{t("machines.anomalies", { n: channel.anomalies })}</span>
        )}
      </h2>
      <Chart option={option} height={200} testid={`trend-${channel.name}`} />
      <details open={highlighted}>
        <summary className="small muted">{t("checks.title")}</summary>
        <LiveChecks subjectKind="channel" subjectId={channel.channel_id} />
      </details>
    </article>
  );
}

function IndexChart({ index }) {
  const { t } = useI18n();
  const option = useMemo(
    () => ({
      grid: { left: 50, right: 90, top: 20, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "time" },
      yAxis: { type: "value", max: (v) => Math.max(1.1, v.max) },
      series: [
        {
          type: "line",
          data: index.series.map((p) => [p.time, p.value]),
          showSymbol: false,
          lineStyle: { color: "#8e44ad" },
          markLine: {
            symbol: "none",
            data: [
              { yAxis: 1, name: t("machines.failure_level"), lineStyle: { color: RED, type: "dashed" }, label: { formatter: t("machines.failure_level") } },
              { yAxis: index.alarm_level, lineStyle: { color: "#e67e22", type: "dotted" }, label: { formatter: t("machines.alarm_level") } },
            ],
          },
        },
      ],
    }),
    [index, t],
  );
  return <Chart option={option} height={220} testid="health-index" />;
}

function MachineDetail({ assetId }) {
  const { t, when, number } = useI18n();
  const rulText = useRulText();
  const [params] = useSearchParams();
  const wanted = params.get("channel");
  const { data, error, reload } = useApi(`/api/machines/${encodeURIComponent(assetId)}`);
  useLiveEvents(["alert"], reload, 1000); // a new alert on this machine shows at once
  useEffect(() => {
    if (data && wanted) document.getElementById(`channel-${wanted}`)?.scrollIntoView({ block: "center" });
  }, [data, wanted]);
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const { health } = data;
  if (!health)
    // learning normal since its newest repair: no health yet, its events still show
    return (
      <section>
        <MachineHeading name={data.asset.name} />
        <p className="muted" data-testid="machine-problem">
          {t("machines.no_data")}: {data.problem}
        </p>
        <MaintenanceEvents asset={data.asset} events={data.maintenance_events || []} onChange={reload} />
      </section>
    );
  return (
    <section>
      <MachineHeading name={data.asset.name} />
      <div className="stats">
        <Stat label={t("machines.health")} value={<HealthBar value={health.health_percent} />} />
        <Stat
          label={t("machines.rul")}
          value={
            <>
              <span data-testid="detail-rul">{rulText(health.status, health.rul)}</span>
              <RulSource source={health.model.rul_source} model={health.model.rul_model} />
            </>
          }
        />
        <Stat label={t("machines.drivers")} value={<Drivers drivers={health.drivers} />} />
        <Stat label={t("machines.as_of")} value={<span className="small">{when(health.as_of)}</span>} />
      </div>
      <article className="card">
        <h2>{t("machines.index")}</h2>
        <IndexChart index={health.index} />
        <p className="small muted">
          {t("machines.model", {
            n: health.model.baseline_readings,
            from: when(health.model.baseline_from),
            to: when(health.model.baseline_to),
            level: number(health.model.failure_level),
          })}
        </p>
        {health.model.rul_model && (
          <p className="small muted" data-testid="rul-model">
            {t("machines.rul_model_detail", {
              name: health.model.rul_model.name,
              version: health.model.rul_model.version,
              when: when(health.model.rul_model.trained_at),
              n: health.model.rul_model.histories,
              kind: health.model.rul_model.asset_kind,
              since: when(health.model.rul_model.run_start),
            })}
          </p>
        )}
      </article>
      <h2>{t("machines.channels")}</h2>
      <div className="two">
        {data.channels.map((c) => (
          <ChannelChart key={c.channel_id} channel={c} highlighted={c.channel_id === wanted} />
        ))}
      </div>
      <article className="card">
        <LiveChecks subjectKind="asset" subjectId={assetId} />
      </article>
      <MaintenanceEvents asset={data.asset} events={data.maintenance_events || []} onChange={reload} />
      <article className="card">
        <h2>{t("machines.alerts")}</h2>
        {data.alerts.length === 0 ? (
          <Empty>{t("machines.no_alerts")}</Empty>
        ) : (
          <table className="table" data-testid="machine-alerts">
            <thead>
              <tr>
                <th>{t("machines.when")}</th>
                <th>{t("machines.alert")}</th>
                <th>{t("machines.status")}</th>
                <th>{t("machines.count")}</th>
              </tr>
            </thead>
            <tbody>
              {data.alerts.map((a) => (
                <tr key={a.id}>
                  <td className="small">{when(a.last_at)}</td>
                  <td>
                    <strong>{a.rule}</strong>
                    <div className="small muted">{a.message}</div>
                  </td>
                  <td className={a.open ? "bad" : "ok"}>{t(`machines.alert_${a.status}`)}</td>
                  <td>{a.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </article>
    </section>
  );
}

export default function Machines() {
  const { assetId } = useParams();
  return assetId ? <MachineDetail assetId={assetId} /> : <MachineList />;
}
