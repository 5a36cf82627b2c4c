// create-figma-plugin's build turns `import styles from './x.css'` into a CSS module: class name -> hashed name.
declare module '*.css' {
  const styles: Record<string, string>;
  export default styles;
}
