// One line: live inspection stream (newest first), defect Pareto, score control chart.
import { useMemo, useState } from "react";
import { useParams } from "react-router-dom";
import { timeZone } from "../api.js";
import { useI18n } from "../i18n.jsx";
import { useLiveEvents } from "../live.js";
import Chart from "../components/Chart.jsx";
import { BlobImage, Empty, ErrorBox, Loading, Stat, Verdict, useApi } from "../components/ui.jsx";

const DAYS = 14;

function Pareto({ pareto }) {
  const option = useMemo(
    () => ({
      grid: { left: 40, right: 40, top: 20, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: pareto.map((p) => p.defect_type) },
      yAxis: [
        { type: "value", minInterval: 1 },
        { type: "value", max: 1, axisLabel: { formatter: (v) => `${Math.round(100 * v)}%` } },
      ],
      series: [
        { type: "bar", data: pareto.map((p) => p.count), itemStyle: { color: "#2c6fbb" } },
        { type: "line", yAxisIndex: 1, data: pareto.map((p) => p.cumulative_share), itemStyle: { color: "#e67e22" } },
      ],
    }),
    [pareto],
  );
  return <Chart option={option} height={220} testid="pareto" />;
}

function ControlChart({ chart }) {
  const option = useMemo(() => {
    const line = (y, name, color) => ({ yAxis: y, name, lineStyle: { color, type: "dashed" }, label: { formatter: name } });
    return {
      grid: { left: 40, right: 50, top: 20, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: chart.points.map((p) => p.taken_at.slice(5, 16).replace("T", " ")) },
      yAxis: { type: "value", scale: true },
      series: [
        {
          type: "line",
          data: chart.points.map((p) => ({ value: p.value, itemStyle: { color: p.beyond ? "#c0392b" : "#2c6fbb" } })),
          symbolSize: 4,
          lineStyle: { width: 1, color: "#7f8c8d" },
          markLine: {
            symbol: "none",
            data: [
              line(chart.upper, "UCL", "#c0392b"),
              line(chart.centre, "CL", "#27ae60"),
              line(chart.lower, "LCL", "#c0392b"),
              line(1, "threshold", "#8e44ad"),
            ],
          },
        },
      ],
    };
  }, [chart]);
  return <Chart option={option} height={240} testid="control-chart" />;
}

function StreamItem({ item }) {
  const { t, number, when } = useI18n();
  const [heat, setHeat] = useState(true);
  return (
    <li className="stream-item" data-testid="stream-item">
      <button className="thumb" onClick={() => setHeat(!heat)} title={heat ? t("line.image") : t("line.heatmap")}>
        <BlobImage sha={heat && item.heatmap_sha256 ? item.heatmap_sha256 : item.image_sha256} alt={item.serial || item.id} />
      </button>
      <div>
        <Verdict verdict={item.verdict} review={item.review_decision} />
        <div className="small">{item.serial || item.id.slice(0, 8)}</div>
        <div className="small muted">{when(item.taken_at)}</div>
        <div className="small">
          {item.score != null && `score ${number(item.score, 3)}`} {item.defect_type && `· ${item.defect_type}`}
        </div>
      </div>
    </li>
  );
}

export default function Line() {
  const { lineId } = useParams();
  const { t } = useI18n();
  const path = `/api/lines/${encodeURIComponent(lineId)}/dashboard?days=${DAYS}&tz=${encodeURIComponent(timeZone())}`;
  // pushed: a part inspected on any line of ours reloads the figures (and a slow poll
  // keeps them fresh should the event stream be cut)
  const { data, error, reload } = useApi(path, 60000);
  useLiveEvents(["inspection"], reload);
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const { figures } = data;
  return (
    <section>
      <h1>
        {t("line.title")}: {data.line.name} <small className="muted">{t("line.refresh")}</small>
      </h1>
      {error && <ErrorBox error={error} />}
      <div className="stats">
        <Stat label={t("scorecard.inspected")} value={figures.inspected} />
        <Stat label={t("overview.defect_rate")} value={figures.defect_rate == null ? "—" : `${(100 * figures.defect_rate).toFixed(1)} %`} />
        <Stat label={t("overview.fpy")} value={figures.first_pass_yield == null ? "—" : `${(100 * figures.first_pass_yield).toFixed(1)} %`} />
      </div>
      <div className="two">
        <article className="card">
          <h2>{t("line.pareto", { days: DAYS })}</h2>
          {data.pareto.length ? <Pareto pareto={data.pareto} /> : <Empty>{t("line.no_defects", { days: DAYS })}</Empty>}
        </article>
        <article className="card">
          <h2>{t("line.chart")}</h2>
          {data.control_chart.points.length ? (
            <ControlChart chart={data.control_chart} />
          ) : (
            <Empty>{t("line.no_chart")}</Empty>
          )}
        </article>
      </div>
      <article className="card">
        <h2>{t("line.stream")}</h2>
        {data.recent.length ? (
          <ul className="stream">
            {data.recent.map((item) => (
              <StreamItem key={item.id} item={item} />
            ))}
          </ul>
        ) : (
          <Empty>{t("line.no_stream", { days: DAYS })}</Empty>
        )}
      </article>
    </section>
  );
}
