/** @type {import('next').NextConfig} */
export default {
	// The test runs `next build` into .next (git-ignored) once per run.
	poweredByHeader: false,
};
