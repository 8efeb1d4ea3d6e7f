// The one well-known key `npm run dev` accepts when API_KEYS is unset, and `npm start` refuses.
export const DEV_API_KEY = 'dev-key-change-me';
