// Who is logged in: the token, and /api/me (user, role, organisation and its kind).
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { api, getToken, setToken, whenUnauthorised } from "./api.js";

const Auth = createContext(null);
const RANK = { viewer: 0, operator: 1, engineer: 2, admin: 3 };

export function AuthProvider({ children }) {
  const [me, setMe] = useState(null);
  const [checking, setChecking] = useState(Boolean(getToken()));

  const logout = useCallback(() => {
    setToken(null);
    setMe(null);
  }, []);

  const enterToken = useCallback(async (token, remember) => {
    const who = await api("/api/me", { token });
    setToken(token, remember);
    setMe(who);
    return who;
  }, []);

  const login = useCallback(
    async (email, password, remember) => {
      const created = await api("/api/auth/login", { method: "POST", body: { email, password } });
      return enterToken(created.token, remember);
    },
    [enterToken],
  );

  useEffect(() => {
    whenUnauthorised(logout);
    const token = getToken();
    if (!token) return;
    api("/api/me", { token })
      .then(setMe)
      .catch(() => setToken(null))
      .finally(() => setChecking(false));
  }, [logout]);

  const can = (role) => me != null && RANK[me.role] >= RANK[role];
  const isOem = me?.organisation?.kind === "oem";
  return (
    <Auth.Provider value={{ me, checking, login, enterToken, logout, can, isOem }}>
      {children}
    </Auth.Provider>
  );
}

export function useAuth() {
  return useContext(Auth);
}
