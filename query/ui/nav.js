// The router's shared state, so views can navigate without importing app.js.
export const router = {
  current: null, // the open TraceView, or null on the list
  route: () => {},
};

export function navigate(search) {
  history.pushState(null, '', search ? `/?${search}` : '/');
  router.route();
}
