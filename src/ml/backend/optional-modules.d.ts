// The native tfjs packages are installed only where libtensorflow can be fetched (GPU image).
declare module '@tensorflow/tfjs-node';
declare module '@tensorflow/tfjs-node-gpu';
