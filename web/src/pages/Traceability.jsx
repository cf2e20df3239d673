// Traceability: an OEM's defects by supplier lot (and root-cause requests about them sent
// from here); a supplier's shipments of its lots.
import { useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { Empty, ErrorBox, Loading, useApi, useFileUpload } from "../components/ui.jsx";

function DefectImport({ onDone }) {
  const { t } = useI18n();
  const { result, error, busy, upload } = useFileUpload("/api/part-defects/import", () => onDone());
  return (
    <div className="upload-block">
      <label className="upload">
        {t("trace.import")}{" "}
        <input type="file" accept=".csv" onChange={upload} disabled={busy} data-testid="import-defects" />
      </label>
      <p className="muted small">{t("trace.import_hint")}</p>
      {result && (
        <p className="ok" data-testid="import-defects-result">
          {t("trace.imported", { n: result.stored })}
        </p>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

function counts(map, t, prefix) {
  return Object.entries(map || {})
    .map(([k, n]) => `${prefix ? t(`${prefix}${k}`) : k} ${n}`)
    .join(", ");
}

const requestLink = (id) => `/root-cause?request=${encodeURIComponent(id)}`;

function RequestStatus({ request }) {
  const { t, when } = useI18n();
  if (!request) return <span className="muted small">{t("trace.not_asked")}</span>;
  const badge =
    request.status === "answered" ? "good" : request.status === "refused" || request.status === "declined" ? "bad" : "";
  return (
    <Link to={requestLink(request.id)} className="small" data-testid="trace-request">
      {t("trace.asked", { when: when(request.created_at) })}{" "}
      <span className={`badge ${badge}`} data-testid="trace-request-status">
        {t(`rc.status.${request.status}`)}
      </span>
    </Link>
  );
}

function AskBar({ trace, selected, onSent }) {
  const { t } = useI18n();
  const { can } = useAuth();
  const [state, setState] = useState({ busy: false, error: null, sent: null });
  const why = !can("engineer")
    ? t("trace.ask_needs_engineer")
    : !trace.can_ask
      ? t("trace.ask_no_grant", { supplier: trace.supplier })
      : selected.length === 0
        ? t("trace.ask_select")
        : null;
  const again = trace.lots.filter((l) => l.request && selected.includes(l.lot_code)).map((l) => l.lot_code);
  const send = () => {
    setState({ busy: true, error: null, sent: null });
    api("/api/part-defects/trace/root-cause", {
      method: "POST",
      body: { supplier_org_id: trace.supplier_org_id, lots: selected },
    })
      .then((sent) => {
        setState({ busy: false, error: null, sent });
        onSent();
      })
      .catch((error) => setState({ busy: false, error, sent: null }));
  };
  const q = trace.question || {};
  return (
    <div className="ask-bar" data-testid="trace-ask">
      <button type="button" onClick={send} disabled={Boolean(why) || state.busy} data-testid="trace-ask-send">
        {state.busy
          ? t("rc.sending")
          : t(selected.length === 1 ? "trace.ask_one" : "trace.ask", { n: selected.length, supplier: trace.supplier })}
      </button>{" "}
      {why ? (
        <span className="muted small" data-testid="trace-ask-why">
          {why}
        </span>
      ) : (
        <span className="muted small">
          {t("trace.ask_hint", {
            type: q.defect_type ?? "—",
            found: q.found_at ? t(`rc.found.${q.found_at}`) : "—",
          })}
        </span>
      )}
      {again.length > 0 && !why && (
        <p className="small warn" data-testid="trace-ask-again">
          {t("trace.ask_again", { lots: again.join(", ") })}
        </p>
      )}
      {state.sent && (
        <p className="ok small" data-testid="trace-ask-sent">
          {t("trace.ask_sent", { lots: state.sent.question.lots.join(", ") })}{" "}
          <Link to={requestLink(state.sent.request.id)} data-testid="trace-ask-open">
            {t("trace.ask_open")}
          </Link>
        </p>
      )}
      <ErrorBox error={state.error} />
    </div>
  );
}

function SupplierLots({ trace, onSent }) {
  const { t, number } = useI18n();
  // preselected: the lots whose defects stand above the rest, unless already asked about
  const [selected, setSelected] = useState(() =>
    trace.suggested_lots.filter((code) => !trace.lots.find((l) => l.lot_code === code)?.request),
  );
  const toggle = (code) =>
    setSelected((now) => (now.includes(code) ? now.filter((c) => c !== code) : [...now, code]));
  const ordered = trace.lots.map((l) => l.lot_code).filter((c) => selected.includes(c));
  return (
    <div className="card" data-testid="trace-supplier">
      <h3>{t("trace.supplier_total", { supplier: trace.supplier, n: number(trace.defects) })}</h3>
      {trace.unattributed > 0 && <p className="muted small">{t("trace.unattributed", { n: trace.unattributed })}</p>}
      <table className="table" data-testid="trace-lots">
        <thead>
          <tr>
            <th>{t("trace.ask_col")}</th>
            <th>{t("trace.lot")}</th>
            <th>{t("trace.part")}</th>
            <th>{t("trace.defects")}</th>
            <th>{t("trace.shipped")}</th>
            <th>{t("trace.ppm")}</th>
            <th>{t("trace.stages")}</th>
            <th>{t("trace.types")}</th>
            <th>{t("trace.serials")}</th>
            <th>{t("trace.request")}</th>
          </tr>
        </thead>
        <tbody>
          {trace.lots.map((lot) => (
            <tr key={lot.lot_code} data-testid="trace-lot" data-lot={lot.lot_code}>
              <td>
                <input
                  type="checkbox"
                  checked={selected.includes(lot.lot_code)}
                  onChange={() => toggle(lot.lot_code)}
                  aria-label={t("trace.select_lot", { lot: lot.lot_code })}
                  data-testid="trace-lot-select"
                />
              </td>
              <td>{lot.lot_code}</td>
              <td>
                {lot.part_number}
                {lot.oem_part_number && <span className="muted small"> → {lot.oem_part_number}</span>}
              </td>
              <td>{number(lot.defects)}</td>
              <td>{number(lot.shipped_quantity)}</td>
              <td>{number(lot.ppm)}</td>
              <td>{counts(lot.by_stage, t, "trace.stage_")}</td>
              <td>{counts(lot.by_type)}</td>
              <td className="small">{lot.serials.slice(0, 6).join(", ")}{lot.serials.length > 6 ? " …" : ""}</td>
              <td>
                <RequestStatus request={lot.request} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <AskBar
        trace={trace}
        selected={ordered}
        onSent={() => {
          setSelected([]); // asked: the rows now show the request
          onSent();
        }}
      />
    </div>
  );
}

function Shipments({ rows, testid, showSupplier }) {
  const { t, number, when } = useI18n();
  return (
    <table className="table" data-testid={testid}>
      <thead>
        <tr>
          <th>{t("trace.shipment_no")}</th>
          <th>{showSupplier ? t("trace.supplier") : t("trace.oem")}</th>
          <th>{t("trace.part")}</th>
          <th>{t("trace.lots")}</th>
          <th>{t("trace.shipped_at")}</th>
          <th>{t("trace.sent")}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((s) => (
          <tr key={s.id} data-testid="trace-shipment">
            <td>{s.shipment_no}</td>
            <td>{showSupplier ? s.supplier : s.oem}</td>
            <td>
              {s.part_number} <span className="muted small">→ {s.oem_part_number}</span>
            </td>
            <td className="small">
              {s.lots.map((l) => `${l.code}${l.quantity ? ` (${number(l.quantity)})` : ""}`).join(", ")}
            </td>
            <td>{when(s.shipped_at)}</td>
            <td>{s.sent_at ? when(s.sent_at) : <span className="badge">{t("trace.not_sent")}</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DefectRecords({ rows, total }) {
  const { t, number, when } = useI18n();
  return (
    <>
      <h2>{t("trace.records", { n: number(total) })}</h2>
      <table className="table" data-testid="trace-defects">
        <thead>
          <tr>
            <th>{t("trace.found_at")}</th>
            <th>{t("trace.supplier")}</th>
            <th>{t("trace.stage")}</th>
            <th>{t("trace.type")}</th>
            <th>{t("trace.count")}</th>
            <th>{t("trace.names")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.id}>
              <td>{when(d.found_at)}</td>
              <td>{d.supplier}</td>
              <td>{t(`trace.stage_${d.stage}`)}</td>
              <td>{d.defect_type}</td>
              <td>{number(d.count)}</td>
              <td className="small">{[...d.lot_codes, ...d.serials].join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export default function Traceability() {
  const { t } = useI18n();
  const { can } = useAuth();
  const { data, error, reload } = useApi("/api/dashboard/traceability");
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  if (data.is_oem) {
    return (
      <section data-testid="traceability">
        <h1>{t("trace.title")}</h1>
        <p className="muted small">{t("trace.oem_intro")}</p>
        {can("operator") && <DefectImport onDone={reload} />}
        <h2>{t("trace.by_lot")}</h2>
        {data.suppliers.length === 0 ? (
          <Empty>{t("trace.no_defects")}</Empty>
        ) : (
          data.suppliers.map((s) => <SupplierLots key={s.supplier_org_id} trace={s} onSent={reload} />)
        )}
        {data.defects.length > 0 && <DefectRecords rows={data.defects} total={data.defect_records} />}
        {data.received_shipments.length > 0 && (
          <>
            <h2>{t("trace.received")}</h2>
            <Shipments rows={data.received_shipments} testid="trace-received" showSupplier />
          </>
        )}
      </section>
    );
  }
  return (
    <section data-testid="traceability">
      <h1>{t("trace.title")}</h1>
      <p className="muted small">{t("trace.supplier_intro")}</p>
      <h2>{t("trace.shipments")}</h2>
      {data.shipments.length === 0 ? (
        <Empty>{t("trace.no_shipments")}</Empty>
      ) : (
        <Shipments rows={data.shipments} testid="trace-shipments" />
      )}
    </section>
  );
}
