export const checked = [];
