// Process SPC: per-parameter control charts with rule violations, Cpk with its interval,
// defect root causes and setpoint advice, for one part (?part=<id>&parameter=<name>).
import { useMemo, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import Chart from "../components/Chart.jsx";
import { Empty, ErrorBox, Loading, Stat, useApi } from "../components/ui.jsx";
import LiveChecks from "../components/LiveChecks.jsx";
import { useLiveEvents } from "../live.js";

const RED = "#c0392b";
const BLUE = "#2c6fbb";

function step(x) {
  const magnitude = 10 ** Math.floor(Math.log10(Math.abs(x) || 1) - 1);
  return magnitude;
}
const roundDown = (x) => Math.floor(x / step(x)) * step(x);
const roundUp = (x) => Math.ceil(x / step(x)) * step(x);

function constant(values) {
  return values.length > 0 && values.every((v) => Math.abs(v - values[0]) < 1e-9);
}

function ControlChart({ chart, spec }) {
  const { t, number, when } = useI18n();
  const option = useMemo(() => {
    const rulesAt = new Map();
    chart.violations.forEach((v) => {
      const list = rulesAt.get(v.index) || [];
      list.push(`${v.rule} ${t(`process.rule.${v.rule}`)}`);
      rulesAt.set(v.index, list);
    });
    const labels = chart.times.map((iso) => when(iso));
    const line = (y, name, color, type = "dashed") => ({
      yAxis: y,
      name,
      lineStyle: { color, type },
      label: { formatter: name, position: "end" },
    });
    const marks = [];
    const series = [];
    const limitSeries = (data, name, color) => ({
      type: "line",
      name,
      data,
      step: "middle",
      symbol: "none",
      lineStyle: { color, type: "dashed", width: 1 },
      tooltip: { show: false },
    });
    if (constant(chart.ucl)) {
      marks.push(line(chart.ucl[0], "UCL", RED), line(chart.centre[0], "CL", "#27ae60"), line(chart.lcl[0], "LCL", RED));
    } else {
      series.push(limitSeries(chart.ucl, "UCL", RED), limitSeries(chart.lcl, "LCL", RED));
      marks.push(line(chart.centre[0], "CL", "#27ae60"));
    }
    if (spec?.upper != null) marks.push(line(spec.upper, "USL", "#8e44ad", "solid"));
    if (spec?.lower != null) marks.push(line(spec.lower, "LSL", "#8e44ad", "solid"));
    if (chart.baseline > 0 && chart.baseline < chart.values.length) {
      marks.push({ xAxis: chart.baseline, name: "I | II", lineStyle: { color: "#95a5a6" }, label: { formatter: t("process.phase_two") } });
    }
    series.unshift({
      type: "line",
      name: chart.parameter,
      data: chart.values.map((v, i) => ({
        value: v,
        symbolSize: rulesAt.has(i) ? 8 : 4,
        itemStyle: { color: rulesAt.has(i) ? RED : BLUE },
      })),
      lineStyle: { width: 1, color: "#7f8c8d" },
      markLine: { symbol: "none", data: marks },
    });
    return {
      grid: { left: 55, right: 60, top: 20, bottom: 30 },
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          const rules = rulesAt.get(p.dataIndex);
          const head = `${labels[p.dataIndex]}<br/>${chart.parameter}: ${number(p.value, 3)}`;
          return rules ? `${head}<br/><b style="color:${RED}">${rules.join("<br/>")}</b>` : head;
        },
      },
      xAxis: { type: "category", data: labels, axisLabel: { hideOverlap: true } },
      // the axis holds the data and the control limits (spec lines show when they fall inside)
      yAxis: {
        type: "value",
        scale: true,
        min: (v) => roundDown(Math.min(v.min, ...chart.lcl)),
        max: (v) => roundUp(Math.max(v.max, ...chart.ucl)),
        axisLabel: { showMinLabel: false, showMaxLabel: false },
      },
      series,
    };
  }, [chart, spec, t, number, when]);
  return <Chart option={option} height={250} testid={`chart-${chart.parameter}`} />;
}

function Capability({ capability }) {
  const { t, number } = useI18n();
  if (!capability) return <p className="small muted" data-testid="cpk-none">{t("process.no_spec")}</p>;
  const { cpk, cp, ppk } = capability;
  const tone = cpk.value >= 1.33 ? "ok" : cpk.value >= 1 ? "warn" : "bad";
  return (
    <div className={`cpk cpk-${tone}`} data-testid="cpk">
      <div className="stat-value">Cpk {number(cpk.value, 2)}</div>
      <div className="small">
        {t("process.ci", { low: number(cpk.lower, 2), high: number(cpk.upper, 2) })}
      </div>
      <div className="small muted">
        {cp && `Cp ${number(cp.value, 2)} · `}Ppk {number(ppk.value, 2)} · n = {capability.n}
      </div>
      <div className="small muted">
        {t("process.spec")}: {capability.lower_spec ?? "—"} – {capability.upper_spec ?? "—"}
      </div>
    </div>
  );
}

function ParameterCard({ chart, spec, focused, partId }) {
  const { t } = useI18n();
  const kind = chart.kind === "xbar-r" ? t("process.kind_xbar", { n: Math.max(...chart.subgroup_sizes, 0) }) : t("process.kind_imr");
  return (
    <article
      className={`card process-card${focused ? " focused" : ""}`}
      data-testid={`parameter-${chart.parameter}`}
      data-violations={chart.violations.length}
    >
      <h2>
        {chart.parameter} {chart.unit && <small className="muted">({chart.unit})</small>}{" "}
        <small className="muted">{kind}</small>
        {chart.violations.length > 0 && (
          <span className="badge bad" data-testid="violation-count">
            {t("process.violations_n", { n: new Set(chart.violations.map((v) => v.index)).size })}
          </span>
        )}
      </h2>
      <div className="chart-row">
        <div className="chart-main">
          {chart.ucl.length ? <ControlChart chart={chart} spec={spec} /> : <Empty>{t("process.too_few")}</Empty>}
          <p className="small muted">
            {chart.limits_from === "settings"
              ? t("process.limits_stored")
              : chart.limits_from === "oldest"
                ? t("process.limits_oldest", { n: chart.window.limits_points, m: chart.window.limits_records })
                : t("process.limits_baseline", { n: chart.baseline })}
            {chart.notes.map((note) => ` · ${note}`)}
          </p>
        </div>
        <Capability capability={chart.capability} />
      </div>
      <details open={focused}>
        <summary className="small muted">{t("checks.title")}</summary>
        <LiveChecks subjectKind="parameter" subjectId={partId} parameter={chart.parameter} />
      </details>
    </article>
  );
}

function Violations({ charts }) {
  const { t, number, when } = useI18n();
  // one row per broken point, with every rule it breaks
  const rows = charts
    .flatMap((c) => {
      const byPoint = new Map();
      c.violations.forEach((v) => {
        const row = byPoint.get(v.index) || { ...v, parameter: c.parameter, rules: [] };
        row.rules.push(v.rule);
        byPoint.set(v.index, row);
      });
      return [...byPoint.values()];
    })
    .sort((a, b) => (a.time < b.time ? 1 : -1));
  if (!rows.length) return <Empty>{t("process.no_violations")}</Empty>;
  return (
    <table className="table" data-testid="violations">
      <thead>
        <tr>
          <th>{t("process.when")}</th>
          <th>{t("process.parameter")}</th>
          <th>{t("process.rule")}</th>
          <th>{t("process.value")}</th>
        </tr>
      </thead>
      <tbody>
        {rows.slice(0, 50).map((v) => (
          <tr key={`${v.parameter}-${v.index}`} data-testid="violation">
            <td>{when(v.time)}</td>
            <td>{v.parameter}</td>
            <td>
              {v.rules.map((rule) => (
                <div key={rule}>
                  <b>{rule}</b> {t(`process.rule.${rule}`)}
                </div>
              ))}
            </td>
            <td>{number(v.value, 3)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function TrainModel({ partId, onDone }) {
  const { t } = useI18n();
  const { can } = useAuth();
  const [state, setState] = useState({ busy: false, error: null });
  if (!can("engineer")) return null;
  const train = () => {
    setState({ busy: true, error: null });
    api(`/api/parts/${encodeURIComponent(partId)}/process-model`, { method: "POST" })
      .then(() => {
        setState({ busy: false, error: null });
        onDone();
      })
      .catch((error) => setState({ busy: false, error }));
  };
  return (
    <div>
      <button onClick={train} disabled={state.busy} data-testid="train-process-model">
        {state.busy ? t("process.training") : t("process.train")}
      </button>
      <ErrorBox error={state.error} />
    </div>
  );
}

function Causes({ defects }) {
  const { t, number, percent, when } = useI18n();
  const option = useMemo(() => {
    const causes = [...defects.causes].reverse();
    return {
      grid: { left: 130, right: 30, top: 10, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", name: t("process.mean_shap") },
      yAxis: { type: "category", data: causes.map((c) => c.parameter) },
      series: [{ type: "bar", data: causes.map((c) => c.contribution), itemStyle: { color: "#e67e22" } }],
    };
  }, [defects, t]);
  return (
    <div className="two">
      <div>
        <h3>{t("process.causes")}</h3>
        <Chart option={option} height={40 + 28 * defects.causes.length} testid="causes-chart" />
        <p className="small muted">
          {t("process.model_used", { name: defects.model_name, version: defects.model_version, when: when(defects.trained_at), n: defects.records })}
        </p>
      </div>
      <div data-testid="advice">
        <h3>{t("process.advice")}</h3>
        {defects.moves.length ? (
          <>
            <table className="table">
              <thead>
                <tr>
                  <th>{t("process.parameter")}</th>
                  <th>{t("process.now")}</th>
                  <th>{t("process.advised")}</th>
                  <th>{t("process.range")}</th>
                </tr>
              </thead>
              <tbody>
                {defects.moves.map((m) => (
                  <tr key={m.parameter}>
                    <td>{m.parameter}</td>
                    <td>{number(m.current, 3)}</td>
                    <td>
                      <b>{number(m.advised, 3)}</b>
                    </td>
                    <td className="small">
                      {number(m.low, 3)} – {number(m.high, 3)} ({t(m.limits_from === "spec" ? "process.from_spec" : "process.from_recent")})
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="stats">
              <Stat label={t("process.rate_now")} value={percent(defects.defect_rate_before)} />
              <Stat label={t("process.rate_after")} value={percent(defects.defect_rate_after)} />
              <Stat label={t("process.gain")} value={percent(defects.gain)} testid="gain" />
            </div>
          </>
        ) : (
          <Empty>{t("process.no_moves")}</Empty>
        )}
        <p className="small muted">{t("process.advice_note")}</p>
      </div>
    </div>
  );
}

export default function Process() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const part = params.get("part");
  const parameter = params.get("parameter");
  const query = new URLSearchParams();
  if (part) query.set("part_id", part);
  const { data, error, reload } = useApi(`/api/dashboard/process?${query}`);
  // a new record that breaks a rule (or is a likely defect) is pushed as an alert
  useLiveEvents(["alert"], reload, 1000);
  const choose = (changes) => {
    const next = new URLSearchParams(params);
    Object.entries(changes).forEach(([k, v]) => (v ? next.set(k, v) : next.delete(k)));
    setParams(next);
  };
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  if (!data.part) {
    return (
      <section data-testid="process-page">
        <h1>{t("process.title")}</h1>
        <Empty>{t("process.no_records")}</Empty>
      </section>
    );
  }
  const unknown = parameter && !data.parameters.includes(parameter);
  const shown = parameter && !unknown ? data.charts.filter((c) => c.parameter === parameter) : data.charts;
  return (
    <section data-testid="process-page">
      <h1>
        {t("process.title")}: {data.part.number} <small className="muted">{data.part.name}</small>
      </h1>
      <div className="toolbar">
        <label>
          {t("process.part")}{" "}
          <select data-testid="part-picker" value={data.part.id} onChange={(e) => choose({ part: e.target.value, parameter: null })}>
            {data.parts.map((p) => (
              <option key={p.id} value={p.id}>
                {p.number} — {p.name}
              </option>
            ))}
          </select>
        </label>{" "}
        <label>
          {t("process.parameter")}{" "}
          <select data-testid="parameter-picker" value={parameter && !unknown ? parameter : ""} onChange={(e) => choose({ parameter: e.target.value })}>
            <option value="">{t("process.all")}</option>
            {data.parameters.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <span className="small muted" data-testid="record-count">
          {" "}
          {data.charted < data.records
            ? t("process.records_window", { n: data.charted, m: data.records })
            : t("process.records", { n: data.records })}
        </span>
      </div>
      {unknown && <ErrorBox error={{ message: t("process.unknown_parameter", { name: parameter }) }} />}
      {shown.map((c) => (
        <ParameterCard key={c.parameter} chart={c} spec={data.specs[c.parameter]} focused={c.parameter === parameter} partId={data.part.id} />
      ))}
      <article className="card">
        <h2>{t("process.violations")}</h2>
        <Violations charts={shown} />
      </article>
      <article className="card">
        <LiveChecks subjectKind="part" subjectId={data.part.id} />
      </article>
      <article className="card" data-testid="defects">
        <h2>{t("process.defects")}</h2>
        {data.defects ? (
          <Causes defects={data.defects} />
        ) : (
          <>
            <Empty>{t("process.no_model")}</Empty>
            <TrainModel partId={data.part.id} onDone={reload} />
          </>
        )}
      </article>
    </section>
  );
}
