import { auth, signIn, signOut } from "../auth";

// Rendered per request: the session comes from the request's cookie.
export const dynamic = "force-dynamic";

export default async function Home() {
	const session = await auth();
	if (session?.user) {
		return (
			<main>
				<p id="signed-in">
					Signed in as {session.user.name} ({session.user.email})
				</p>
				<form
					action={async () => {
						"use server";
						await signOut({ redirectTo: "/" });
					}}
				>
					<button id="sign-out" type="submit">Sign out</button>
				</form>
			</main>
		);
	}
	return (
		<main>
			<p id="signed-out">Not signed in</p>
			<form
				action={async () => {
					"use server";
					await signIn("github", { redirectTo: "/" });
				}}
			>
				<button id="sign-in" type="submit">Sign in with GitHub</button>
			</form>
		</main>
	);
}
