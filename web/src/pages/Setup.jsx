// Setup: a company describes itself from the browser alone — sites, lines, stations, part
// numbers, its defect taxonomy (and what it inherits from its OEM), machines and channels.
import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import Chart from "../components/Chart.jsx";
import { AddForm } from "../components/forms.jsx";
import { Empty, ErrorBox, Loading, useApi, useFileUpload } from "../components/ui.jsx";

const post = (path) => (body) => api(path, { method: "POST", body });

function Card({ title, testid, children }) {
  return (
    <article className="card" data-testid={testid}>
      <h2>{title}</h2>
      {children}
    </article>
  );
}

function Plant({ view, reload, admin }) {
  const { t } = useI18n();
  const siteName = new Map(view.sites.map((s) => [s.id, s.name]));
  const lineName = new Map(view.lines.map((l) => [l.id, l.name]));
  const siteOptions = view.sites.map((s) => [s.id, s.name]);
  const lineOptions = view.lines.map((l) => [l.id, `${l.name} (${siteName.get(l.site_id) || "?"})`]);
  return (
    <div className="two">
      <Card title={t("setup.sites")} testid="sites">
        {view.sites.length === 0 ? <Empty>{t("setup.no_sites")}</Empty> : (
          <ul>{view.sites.map((s) => <li key={s.id} data-testid="site">{s.name}</li>)}</ul>
        )}
        {admin && (
          <AddForm testid="new-site" onSubmit={post("/api/sites")} onDone={reload}
            fields={[{ name: "name", label: t("setup.name"), required: true, placeholder: "Changwon plant" }]} />
        )}
      </Card>
      <Card title={t("setup.lines")} testid="lines">
        {view.lines.length === 0 ? <Empty>{t("setup.no_lines")}</Empty> : (
          <ul>{view.lines.map((l) => <li key={l.id} data-testid="line">{l.name} <span className="muted small">{siteName.get(l.site_id)}</span></li>)}</ul>
        )}
        {admin && (view.sites.length === 0 ? <p className="muted small">{t("setup.need_site")}</p> : (
          <AddForm testid="new-line" onSubmit={post("/api/lines")} onDone={reload}
            fields={[
              { name: "site_id", label: t("setup.site"), required: true, options: siteOptions },
              { name: "name", label: t("setup.name"), required: true, placeholder: "Press line 1" },
            ]} />
        ))}
      </Card>
      <Card title={t("setup.stations")} testid="stations">
        {view.stations.length === 0 ? <Empty>{t("setup.no_stations")}</Empty> : (
          <ul>{view.stations.map((s) => <li key={s.id} data-testid="station">{s.name} <span className="muted small">{lineName.get(s.line_id)} · {s.kind}</span></li>)}</ul>
        )}
        {admin && (view.lines.length === 0 ? <p className="muted small">{t("setup.need_line")}</p> : (
          <AddForm testid="new-station" onSubmit={post("/api/stations")} onDone={reload}
            fields={[
              { name: "line_id", label: t("setup.line"), required: true, options: lineOptions },
              { name: "name", label: t("setup.name"), required: true, placeholder: "Camera 1" },
              { name: "kind", label: t("setup.kind"), required: true, initial: "process" },
            ]} />
        ))}
      </Card>
      <Card title={t("setup.parts")} testid="parts">
        {view.parts.length === 0 ? <Empty>{t("setup.no_parts")}</Empty> : (
          <ul>{view.parts.map((p) => <li key={p.id} data-testid="part"><span className="mono">{p.number}</span> {p.name} <Link className="small" to={`/teach/${p.id}`}>{t("nav.teach")}</Link></li>)}</ul>
        )}
        <AddForm testid="new-part" onSubmit={post("/api/parts")} onDone={reload}
          fields={[
            { name: "number", label: t("setup.number"), required: true, placeholder: "DS-1001" },
            { name: "name", label: t("setup.name"), required: true, placeholder: "Door panel" },
          ]} />
      </Card>
    </div>
  );
}

function Taxonomy({ view, reload }) {
  const { t } = useI18n();
  return (
    <Card title={t("setup.taxonomy")} testid="taxonomy">
      {view.defect_types.length === 0 ? <Empty>{t("setup.no_types")}</Empty> : (
        <table className="table">
          <tbody>
            {view.defect_types.map((d) => (
              <tr key={d.id} data-testid="defect-type" data-inherited={d.inherited ? "yes" : "no"}>
                <td className="mono">{d.code}</td>
                <td>{d.name}</td>
                <td>{d.severity}</td>
                <td>
                  {d.inherited
                    ? <span className="badge inherited">{t("setup.inherited", { owner: d.owner })}</span>
                    : <span className="badge">{t("setup.own")}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <AddForm testid="new-defect-type" onSubmit={post("/api/defect-types")} onDone={reload}
        fields={[
          { name: "code", label: t("setup.code"), required: true, placeholder: "burr" },
          { name: "name", label: t("setup.name"), required: true, placeholder: "Burr" },
          { name: "severity", label: t("setup.severity"), type: "number", required: true, initial: "2" },
        ]} />
    </Card>
  );
}

function Readings({ channel, version }) {
  const { t, lang } = useI18n();
  const readings = useApi(`/api/channels/${channel.id}/readings?limit=5000&v=${version}`);
  const option = useMemo(() => readings.data && ({
    grid: { left: 50, right: 16, top: 16, bottom: 30 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "time" },
    yAxis: { type: "value", scale: true, name: channel.unit },
    series: [{ type: "line", showSymbol: false, data: readings.data.readings.map((r) => [r.time, r.value]) }],
  }), [readings.data, channel.unit]);
  if (readings.error) return <ErrorBox error={readings.error} />;
  if (!readings.data) return <Loading />;
  return (
    <div data-testid="readings" lang={lang}>
      <h3>{t("setup.readings", { channel: channel.name })} ({readings.data.readings.length})</h3>
      {readings.data.readings.length === 0 ? <Empty>{t("setup.no_readings")}</Empty> : <Chart option={option} testid="readings-chart" />}
    </div>
  );
}

function SensorImport({ asset, onDone }) {
  const { t } = useI18n();
  const { result, error, busy, upload } = useFileUpload("/api/imports/sensor-readings", onDone);
  return (
    <div className="upload-block">
      <label className="upload">
        {t("setup.import")} <input type="file" accept=".csv,.parquet" onChange={upload} disabled={busy} data-testid="import-sensors" />
      </label>
      <p className="muted small">{t("setup.import_hint", { asset: asset.name })}</p>
      {result && (
        <p className="ok" data-testid="import-result">
          {t("setup.imported", { file: result.filename, accepted: result.rows_accepted, new: result.rows_new })}
        </p>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

function Asset({ asset, reload, lineName }) {
  const { t } = useI18n();
  const [picked, setPicked] = useState(null);
  const [version, setVersion] = useState(0);
  const [imported, setImported] = useState(false);
  // after an import, show the first channel's chart unless one was picked
  const channel = asset.channels.find((c) => c.id === picked) || (imported ? asset.channels[0] : null) || null;
  return (
    <div className="asset" data-testid="asset" data-name={asset.name}>
      <h3>
        {asset.name} <span className="muted small">{asset.kind}{asset.line_id ? ` · ${lineName.get(asset.line_id) || ""}` : ""}</span>{" "}
        <Link className="small" to={`/machines/${asset.id}`}>{t("setup.machine_page")}</Link>
      </h3>
      {asset.channels.length === 0 ? <p className="muted small">{t("setup.no_channels")}</p> : (
        <ul className="chips">
          {asset.channels.map((c) => (
            <li key={c.id}>
              <button type="button" className={c.id === channel?.id ? "selected" : ""} data-testid="channel" onClick={() => setPicked(c.id)}>
                {c.name}{c.unit ? ` (${c.unit})` : ""}
              </button>
            </li>
          ))}
        </ul>
      )}
      <AddForm testid="new-channel" submitLabel={t("setup.add_channel")}
        onSubmit={post(`/api/assets/${asset.id}/channels`)} onDone={reload}
        fields={[
          { name: "name", label: t("setup.name"), required: true, placeholder: "vibration" },
          { name: "unit", label: t("setup.unit"), placeholder: "mm/s" },
        ]} />
      <SensorImport asset={asset} onDone={() => {
        reload();
        setVersion((v) => v + 1);
        setImported(true);
      }} />
      {channel && <Readings key={channel.id} channel={channel} version={version} />}
    </div>
  );
}

function Assets({ view, reload }) {
  const { t } = useI18n();
  const lineName = new Map(view.lines.map((l) => [l.id, l.name]));
  return (
    <Card title={t("setup.assets")} testid="assets">
      <AddForm testid="new-asset" onSubmit={post("/api/assets")} onDone={reload}
        fields={[
          { name: "name", label: t("setup.name"), required: true, placeholder: "Press 7" },
          { name: "line_id", label: t("setup.line"), options: view.lines.map((l) => [l.id, l.name]) },
          { name: "station_id", label: t("setup.station"), options: view.stations.map((s) => [s.id, s.name]) },
          { name: "kind", label: t("setup.kind"), required: true, initial: "machine" },
        ]} />
      {view.assets.length === 0 ? <Empty>{t("setup.no_assets")}</Empty> : view.assets.map((a) => (
        <Asset key={a.id} asset={a} reload={reload} lineName={lineName} />
      ))}
    </Card>
  );
}

export default function Setup() {
  const { t } = useI18n();
  const { can } = useAuth();
  const view = useApi(can("engineer") ? "/api/dashboard/setup" : null);
  if (!can("engineer")) return <Empty>{t("setup.only_engineer")}</Empty>;
  return (
    <section>
      <h1 data-testid="page-title">{t("setup.title")}</h1>
      <p className="muted">{t("setup.intro")}</p>
      {!can("admin") && <p className="muted small">{t("setup.admin_only")}</p>}
      {view.error && <ErrorBox error={view.error} onRetry={view.reload} />}
      {!view.data ? (!view.error && <Loading />) : (
        <>
          <Plant view={view.data} reload={view.reload} admin={can("admin")} />
          <Taxonomy view={view.data} reload={view.reload} />
          <Assets view={view.data} reload={view.reload} />
        </>
      )}
    </section>
  );
}
