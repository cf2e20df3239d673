// Admin: organisations, users, tokens, share grants, audit log search.
import { useState } from "react";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { Empty, ErrorBox, Loading, useApi } from "../components/ui.jsx";

function Section({ title, state, children }) {
  return (
    <article className="card">
      <h2>{title}</h2>
      {state.error ? <ErrorBox error={state.error} onRetry={state.reload} /> : state.data ? children(state.data) : <Loading />}
    </article>
  );
}

function Tokens() {
  const { t, when } = useI18n();
  const tokens = useApi("/api/tokens?limit=200");
  const [created, setCreated] = useState(null);
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const act = async (fn) => {
    setError(null);
    try {
      await fn();
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Section title={t("admin.tokens")} state={tokens}>
      {(data) => (
        <>
          <form className="inline" onSubmit={(e) => {
            e.preventDefault();
            act(async () => setCreated(await api("/api/tokens", { method: "POST", body: { name } })));
          }}>
            <input placeholder="line-1 camera" value={name} onChange={(e) => setName(e.target.value)} required />
            <button type="submit">{t("admin.new_token")}</button>
          </form>
          {created && <p className="ok" data-testid="token-created">{t("admin.token_created", { token: created.token })}</p>}
          <ErrorBox error={error} />
          <table className="table">
            <tbody>
              {data.items.map((tk) => (
                <tr key={tk.id}>
                  <td>{tk.name}</td>
                  <td className="mono">{tk.prefix}…</td>
                  <td className="small">{tk.revoked_at ? `revoked ${when(tk.revoked_at)}` : tk.expires_at ? `expires ${when(tk.expires_at)}` : ""}</td>
                  <td>{!tk.revoked_at && <button className="link" onClick={() => act(() => api(`/api/tokens/${tk.id}`, { method: "DELETE" }))}>{t("admin.revoke")}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}

function Grants({ orgName, ownOrg, orgs }) {
  const { t, when } = useI18n();
  const grants = useApi("/api/grants?limit=200");
  const [error, setError] = useState(null);
  const revoke = async (id) => {
    setError(null);
    try {
      await api(`/api/grants/${id}`, { method: "DELETE" });
      grants.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Section title={t("admin.grants")} state={grants}>
      {(data) =>
        data.items.length === 0 ? (
          <>
            <NewGrant orgs={orgs} ownOrg={ownOrg} onDone={grants.reload} />
            <Empty>{t("admin.no_grants")}</Empty>
          </>
        ) : (
          <>
            <NewGrant orgs={orgs} ownOrg={ownOrg} onDone={grants.reload} />
            <ErrorBox error={error} />
            <table className="table" data-testid="grants">
              <tbody>
                {data.items.map((g) => (
                  <tr key={g.id}>
                    <td>{orgName(g.grantor_org_id)} → {orgName(g.grantee_org_id)}</td>
                    <td>{g.scope}</td>
                    <td className="small">{g.part_number || g.part_id || "all parts"}</td>
                    <td className="small">{g.revoked_at ? `revoked ${when(g.revoked_at)}` : when(g.created_at)}</td>
                    <td>{!g.revoked_at && g.grantor_org_id === ownOrg && <button className="link" onClick={() => revoke(g.id)}>{t("admin.revoke")}</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )
      }
    </Section>
  );
}

function Audit() {
  const { t, when } = useI18n();
  const [action, setAction] = useState("");
  const [resource, setResource] = useState("");
  const [query, setQuery] = useState("");
  const audit = useApi(`/api/audit-events?limit=100${query}`);
  return (
    <Section title={t("admin.audit")} state={audit}>
      {(data) => (
        <>
          <form className="inline" onSubmit={(e) => {
            e.preventDefault();
            const q = new URLSearchParams();
            if (action) q.set("action", action);
            if (resource) q.set("resource", resource);
            setQuery(q.toString() ? `&${q}` : "");
          }}>
            <input placeholder="action (read_shared, refuse, …)" value={action} onChange={(e) => setAction(e.target.value)} data-testid="audit-action" />
            <input placeholder="resource (inspection, grant, …)" value={resource} onChange={(e) => setResource(e.target.value)} />
            <button type="submit">{t("admin.search")}</button>
          </form>
          <table className="table small" data-testid="audit">
            <tbody>
              {data.items.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.at)}</td>
                  <td>{e.action}</td>
                  <td>{e.resource}</td>
                  <td className="mono">{e.resource_id?.slice(0, 8)}</td>
                  <td className="mono small">{JSON.stringify(e.detail).slice(0, 120)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}

const SCOPES = [
  "inspection_records",
  "process_records",
  "sensor_readings",
  "kpi_reports",
  "model_use",
  "model_updates",
  "root_cause",
];

function NewUser({ onDone }) {
  const { t } = useI18n();
  const [form, setForm] = useState({ email: "", display_name: "", role: "operator", password: "" });
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const user = await api("/api/users", { method: "POST", body: { ...form, password: form.password || null } });
      setDone(user.email);
      setForm({ email: "", display_name: "", role: "operator", password: "" });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="inline" onSubmit={submit} data-testid="new-user">
      <input type="email" placeholder={t("login.email")} value={form.email} onChange={set("email")} required />
      <input placeholder={t("admin.name")} value={form.display_name} onChange={set("display_name")} required />
      <select value={form.role} onChange={set("role")}>
        {["viewer", "operator", "engineer", "admin"].map((r) => <option key={r}>{r}</option>)}
      </select>
      <input type="password" placeholder={t("admin.password_min")} value={form.password} onChange={set("password")} />
      <button type="submit">{t("admin.add_user")}</button>
      {done && <span className="ok" role="status">{t("admin.user_added", { email: done })}</span>}
      <ErrorBox error={error} />
    </form>
  );
}

function NewGrant({ orgs, ownOrg, onDone }) {
  const { t } = useI18n();
  const parts = useApi("/api/parts?limit=200");
  const others = orgs.filter((o) => o.id !== ownOrg);
  const [form, setForm] = useState({ grantee_org_id: "", scope: "kpi_reports", part_id: "" });
  const [error, setError] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await api("/api/grants", { method: "POST", body: { ...form, part_id: form.part_id || null } });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="inline" onSubmit={submit} data-testid="new-grant">
      <select value={form.grantee_org_id} onChange={set("grantee_org_id")} required>
        <option value="" disabled>{t("admin.grantee")}</option>
        {others.map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
      </select>
      <select value={form.scope} onChange={set("scope")}>
        {SCOPES.map((sc) => <option key={sc}>{sc}</option>)}
      </select>
      <select value={form.part_id} onChange={set("part_id")}>
        <option value="">{t("admin.all_parts")}</option>
        {(parts.data?.items || []).filter((p) => p.org_id === ownOrg).map((p) => <option key={p.id} value={p.id}>{p.number}</option>)}
      </select>
      <button type="submit">{t("admin.grant")}</button>
      <ErrorBox error={error} />
    </form>
  );
}

export default function Admin() {
  const { t, when } = useI18n();
  const { can, me } = useAuth();
  const orgs = useApi(can("admin") ? "/api/orgs?limit=200" : null);
  const users = useApi(can("admin") ? "/api/users?limit=200" : null);
  if (!can("admin")) return <Empty>{t("admin.only_admin")}</Empty>;
  const orgList = (data) => data || []; // /api/orgs answers a plain list
  const names = new Map(orgList(orgs.data).map((o) => [o.id, o.name]));
  const orgName = (id) => names.get(id) || id.slice(0, 8);
  return (
    <section>
      <h1>{t("admin.title")}</h1>
      <div className="two">
        <Section title={t("admin.orgs")} state={orgs}>
          {(data) => (
            <table className="table" data-testid="orgs">
              <tbody>
                {orgList(data).map((o) => (
                  <tr key={o.id}><td>{o.name}</td><td>{o.kind}</td><td className="mono">{o.slug}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title={t("admin.users")} state={users}>
          {(data) => (
            <>
            <NewUser onDone={users.reload} />
            <table className="table" data-testid="users">
              <tbody>
                {data.items.map((u) => (
                  <tr key={u.id}><td>{u.display_name}</td><td>{u.email}</td><td>{u.role}</td><td className="small">{u.disabled ? "disabled" : when(u.created_at)}</td></tr>
                ))}
              </tbody>
            </table>
            </>
          )}
        </Section>
      </div>
      <Tokens />
      <Grants orgName={orgName} ownOrg={me.organisation.id} orgs={orgList(orgs.data)} />
      <Audit />
    </section>
  );
}
