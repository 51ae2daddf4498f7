// Auth.js with its GitHub provider, configured the way its documentation
// tells a developer to: everything from the environment (AUTH_GITHUB_ID,
// AUTH_GITHUB_SECRET, AUTH_SECRET, AUTH_URL). Nothing here knows about
// oauthlens: the proxy and its CA reach the server's fetch only through
// the variables `oauthlens --env` prints (or `oauthlens run --` sets).
import NextAuth from "next-auth";
import GitHub from "next-auth/providers/github";

export const { handlers, auth, signIn, signOut } = NextAuth({
	providers: [GitHub],
	debug: process.env.E2E_AUTH_DEBUG === "1",
});
