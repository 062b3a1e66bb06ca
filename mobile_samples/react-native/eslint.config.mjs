// The React Native app's hook rules: every hook's dependencies are exactly what it uses
// (react-hooks/exhaustive-deps), and hooks are called unconditionally (react-hooks/rules-of-hooks).
// A dependency that changes on every render would re-run the launch effect: the session resumed
// again and the widget remounted.
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default [
  {
    files: ["App.tsx", "src/**/*.ts", "src/**/*.tsx"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
    },
  },
];
