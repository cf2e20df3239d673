// The OEM's supplier scorecard: built only from KPI reports suppliers shared under grants.
import { useMemo } from "react";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import Chart from "../components/Chart.jsx";
import { Empty, ErrorBox, Loading, useApi } from "../components/ui.jsx";

function Trends({ suppliers }) {
  const option = useMemo(() => {
    const periods = [...new Set(suppliers.flatMap((s) => s.trend.map((p) => p.period_start.slice(0, 10))))].sort();
    return {
      grid: { left: 50, right: 10, top: 30, bottom: 30 },
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: periods },
      yAxis: { type: "value", name: "ppm" },
      series: suppliers.map((s) => ({
        type: "line",
        name: s.supplier,
        connectNulls: true,
        data: periods.map((p) => s.trend.find((x) => x.period_start.slice(0, 10) === p)?.ppm ?? null),
      })),
    };
  }, [suppliers]);
  return <Chart option={option} height={260} testid="scorecard-trend" />;
}

function Parity({ parity }) {
  const { t } = useI18n();
  const status = parity?.status;
  if (status === "ok" || status === "mismatch") {
    const drift = parity.max_score_drift;
    return (
      <span data-testid="parity" data-status={status} title={parity.cause || ""}>
        <span className={`badge ${status === "ok" ? "good" : "bad"}`}>
          {t(status === "ok" ? "scorecard.parity_ok" : "scorecard.parity_mismatch")}
        </span>{" "}
        {drift != null && (
          <span className="small muted">{t("scorecard.parity_drift", { value: drift === 0 ? "0" : Number(drift).toExponential(1) })}</span>
        )}
        {status === "mismatch" && parity.cause && <div className="small">{parity.cause}</div>}
      </span>
    );
  }
  if (status === "unchecked") return <span data-testid="parity" data-status={status}>{t("scorecard.parity_unchecked")}</span>;
  return <span data-testid="parity" data-status={status || "none"}>{t("scorecard.parity_none")}</span>;
}

export default function Scorecard() {
  const { t, number, percent } = useI18n();
  const { isOem } = useAuth();
  const { data, error, reload } = useApi(isOem ? "/api/scorecard" : null);
  if (!isOem) return <Empty>{t("scorecard.only_oem")}</Empty>;
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const rows = data.suppliers;
  return (
    <section>
      <h1>{t("scorecard.title")}</h1>
      <p className="muted small">{t("scorecard.built_from")}</p>
      {rows.length === 0 ? (
        <Empty>{t("scorecard.empty")}</Empty>
      ) : (
        <>
          <table className="table" data-testid="scorecard">
            <thead>
              <tr>
                <th>{t("scorecard.rank")}</th>
                <th>{t("scorecard.supplier")}</th>
                <th>{t("scorecard.part")}</th>
                <th>{t("scorecard.ppm")}</th>
                <th>{t("scorecard.fpy")}</th>
                <th>{t("scorecard.inspected")}</th>
                <th>{t("scorecard.drift")}</th>
                <th title={t("scorecard.parity_help")}>{t("scorecard.parity")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.supplier_org_id}-${r.part_number}`} data-testid="scorecard-row">
                  <td>{r.rank}</td>
                  <td>{r.supplier}</td>
                  <td>{r.part_number}</td>
                  <td>{number(r.ppm)}</td>
                  <td>{percent(r.first_pass_yield)}</td>
                  <td>{number(r.inspected)}</td>
                  <td>
                    {r.drift_psi == null ? "—" : number(r.drift_psi, 3)}{" "}
                    {r.drift_flag && <span className="badge bad">{t("scorecard.drift_flag")}</span>}
                  </td>
                  <td>
                    <Parity parity={r.parity} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{t("scorecard.trend")}</h2>
          <Trends suppliers={rows} />
        </>
      )}
    </section>
  );
}
