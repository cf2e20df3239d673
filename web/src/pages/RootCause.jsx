// The OEM's traced view: root-cause requests sent to suppliers, and what each answer says.
import { useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { Empty, ErrorBox, Loading, useApi } from "../components/ui.jsx";
import { findingSentence, paramName } from "./rootCauseText.js";

const split = (text) =>
  text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);

function AskForm({ suppliers, onSent }) {
  const { t } = useI18n();
  const [form, setForm] = useState({
    supplier_org_id: suppliers[0]?.org_id ?? "",
    lots: "",
    serials: "",
    defect_type: "crack",
    found_at: "assembly",
    note: "",
  });
  const [state, setState] = useState({ busy: false, error: null });
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const send = (e) => {
    e.preventDefault();
    setState({ busy: true, error: null });
    const body = {
      ...form,
      lots: split(form.lots),
      serials: split(form.serials),
      defect_type: form.defect_type || null,
      found_at: form.found_at || null,
    };
    api("/api/root-cause/requests", { method: "POST", body })
      .then(() => {
        setState({ busy: false, error: null });
        onSent();
      })
      .catch((error) => setState({ busy: false, error }));
  };
  return (
    <form className="card addform" onSubmit={send} data-testid="rc-ask">
      <label className="field">
        {t("rc.supplier")}
        <select value={form.supplier_org_id} onChange={set("supplier_org_id")} data-testid="rc-supplier">
          {suppliers.map((s) => (
            <option key={s.org_id} value={s.org_id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        {t("rc.lots")}
        <input value={form.lots} onChange={set("lots")} data-testid="rc-lots" />
      </label>
      <label className="field">
        {t("rc.serials")}
        <input value={form.serials} onChange={set("serials")} data-testid="rc-serials" />
      </label>
      <label className="field">
        {t("rc.defect_type")}
        <input value={form.defect_type} onChange={set("defect_type")} data-testid="rc-defect" />
      </label>
      <label className="field">
        {t("rc.found_at")}
        <select value={form.found_at} onChange={set("found_at")} data-testid="rc-found-at">
          {["incoming", "assembly", "field"].map((f) => (
            <option key={f} value={f}>
              {t(`rc.found.${f}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        {t("rc.note")}
        <input value={form.note} onChange={set("note")} />
      </label>
      <button type="submit" disabled={state.busy} data-testid="rc-send">
        {state.busy ? t("rc.sending") : t("rc.send")}
      </button>
      {state.error && <ErrorBox error={state.error} />}
    </form>
  );
}

function LotDetail({ lot }) {
  const { t, number } = useI18n();
  const insp = lot.inspection || {};
  return (
    <div className="rc-lot" data-testid="rc-lot">
      <h4>
        {t("rc.lot")} {lot.lot ?? "—"} · {lot.part_number} · {t("rc.parts")} {lot.parts}
      </h4>
      <table className="table small">
        <thead>
          <tr>
            <th>{t("rc.parameter")}</th>
            <th>{t("rc.shift")}</th>
            <th>{t("rc.cpk")}</th>
            <th>{t("rc.normal_from")}</th>
          </tr>
        </thead>
        <tbody>
          {lot.parameters.map((p) => (
            <tr key={p.name}>
              <td>{paramName(t, p.name)}</td>
              <td>{p.shift_sigma == null ? "—" : `${p.shift_sigma >= 0 ? "+" : "−"}${number(Math.abs(p.shift_sigma), 2)}σ`}</td>
              <td>{p.cpk == null ? "—" : number(p.cpk, 2)}</td>
              <td>{p.normal_from ? t(`rc.normal.${p.normal_from}`) : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {lot.top_causes.length > 0 && (
        <p className="small">
          {t("rc.causes")}:{" "}
          {lot.top_causes.map((c) => `${paramName(t, c.parameter)} ${number(100 * c.share, 0)} %`).join(", ")}
        </p>
      )}
      <p className="small">
        {t("rc.inspection")}:{" "}
        {insp.inspected > 0 && insp.ok == null
          ? t("rc.ok_ng_withheld", { n: insp.inspected })
          : t("rc.ok_ng", { ok: insp.ok ?? 0, ng: insp.ng ?? 0, n: insp.inspected ?? 0 })}
        {insp.defect_types && Object.keys(insp.defect_types).length > 0 &&
          ` (${Object.entries(insp.defect_types).map(([k, v]) => `${k} ${v}`).join(", ")})`}
      </p>
    </div>
  );
}

function Request({ r, focused }) {
  const { t, number, when } = useI18n();
  const ref = useRef(null);
  useEffect(() => {
    if (focused && ref.current?.scrollIntoView) ref.current.scrollIntoView({ block: "start" });
  }, [focused]);
  const badge = r.status === "answered" ? "good" : r.status === "refused" || r.status === "declined" ? "bad" : "";
  return (
    <article
      ref={ref}
      className={focused ? "card highlight" : "card"}
      data-testid="rc-request"
      data-request={r.id}
      data-focused={focused ? "true" : undefined}
    >
      <header>
        <strong>{r.partner}</strong> · {[...r.lots, ...r.serials].join(", ")}{" "}
        <span className={`badge ${badge}`} data-testid="rc-status">
          {t(`rc.status.${r.status}`)}
        </span>{" "}
        <span className="muted small">{t("rc.asked_at", { when: when(r.created_at) })}</span>
      </header>
      {r.findings.map((f, i) => (
        <p key={i} className="rc-finding" data-testid="rc-finding">
          {findingSentence(t, number, r, f)}
        </p>
      ))}
      {r.reason && (
        <p className="small" data-testid="rc-reason">
          {t("rc.reason")}: {r.reason}
        </p>
      )}
      {r.answer?.lots_not_found?.length > 0 && (
        <p className="small muted">{t("rc.not_found", { lots: r.answer.lots_not_found.join(", ") })}</p>
      )}
      {r.answer?.lots?.map((lot, i) => <LotDetail key={i} lot={lot} />)}
    </article>
  );
}

export default function RootCause() {
  const { t } = useI18n();
  const { can } = useAuth();
  const { data, error, reload } = useApi("/api/dashboard/root-cause");
  const [params] = useSearchParams();
  const focus = params.get("request"); // linked from the Traceability page
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  return (
    <section>
      <h1>{t("rc.title")}</h1>
      <p className="muted small">{t("rc.lead", { k: 5 })}</p>
      {data.suppliers.length === 0 ? (
        <Empty>{t("rc.no_suppliers")}</Empty>
      ) : (
        can("engineer") && (
          <>
            <h2>{t("rc.ask")}</h2>
            <AskForm suppliers={data.suppliers} onSent={reload} />
          </>
        )
      )}
      <h2>{t("rc.requests")}</h2>
      {data.traced.length === 0 ? (
        <Empty>{t("rc.none")}</Empty>
      ) : (
        <div data-testid="rc-traced">
          {data.traced.map((r) => (
            <Request key={r.id} r={r} focused={r.id === focus} />
          ))}
        </div>
      )}
    </section>
  );
}
