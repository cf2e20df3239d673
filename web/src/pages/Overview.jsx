// Per line: parts inspected today, first-pass yield, defect rate with trend, open alerts.
import { useMemo } from "react";
import { Link } from "react-router-dom";
import { timeZone } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import Chart from "../components/Chart.jsx";
import { Empty, ErrorBox, Loading, Stat, useApi } from "../components/ui.jsx";

function Trend({ trend }) {
  const option = useMemo(
    () => ({
      grid: { left: 40, right: 10, top: 10, bottom: 24 },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "—" : `${(100 * v).toFixed(1)} %`) },
      xAxis: { type: "category", data: trend.map((d) => d.day.slice(5)) },
      yAxis: { type: "value", axisLabel: { formatter: (v) => `${Math.round(100 * v)}%` } },
      series: [
        {
          type: "line",
          data: trend.map((d) => d.defect_rate),
          connectNulls: true,
          symbolSize: 5,
          itemStyle: { color: "#c0392b" },
        },
      ],
    }),
    [trend],
  );
  return <Chart option={option} height={150} />;
}

export default function Overview() {
  const { t, number, percent } = useI18n();
  const { isOem } = useAuth();
  const { data, error, reload } = useApi(`/api/dashboard/overview?tz=${encodeURIComponent(timeZone())}`, 30000);
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  return (
    <section>
      <h1>
        {t("overview.title")} <small className="muted">{data.day}</small>
      </h1>
      {data.lines.length === 0 && (
        <Empty>
          <p>{isOem ? t("overview.no_lines_oem") : t("overview.no_lines")}</p>
          {isOem ? (
            <Link to="/scorecard">{t("nav.scorecard")}</Link>
          ) : (
            <p>
              {t("overview.no_lines_next")} <Link to="/setup" data-testid="to-setup">{t("nav.setup")}</Link>
            </p>
          )}
        </Empty>
      )}
      <div className="cards">
        {data.lines.map((line) => (
          <article className="card" key={line.line_id} data-testid="line-card">
            <h2>
              <Link to={`/lines/${line.line_id}`}>{line.name}</Link>
            </h2>
            <div className="stats">
              <Stat label={t("overview.inspected")} value={number(line.today.inspected)} testid="inspected-today" />
              <Stat label={t("overview.fpy")} value={percent(line.today.first_pass_yield)} />
              <Stat label={t("overview.defect_rate")} value={percent(line.today.defect_rate)} />
              <Stat
                label={t("overview.alerts")}
                value={<span className={line.open_alerts ? "bad" : ""}>{number(line.open_alerts)}</span>}
              />
            </div>
            {line.today.inspected === 0 && <p className="muted small">{t("overview.no_inspections")}</p>}
            <h3>{t("overview.trend")}</h3>
            <Trend trend={line.trend} />
            <Link to={`/lines/${line.line_id}`}>{t("overview.open_line")} →</Link>
          </article>
        ))}
      </div>
      {data.open_alerts_elsewhere > 0 && (
        <p className="muted">{t("overview.alerts_elsewhere", { n: data.open_alerts_elsewhere })}</p>
      )}
    </section>
  );
}
