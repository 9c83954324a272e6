// tfjs-core's CommonJS build ships no gradient registrations; the union package registers them all
// (as tfjs-node does by depending on it). Import this module before any tf.grad/variableGrads call.
import '@tensorflow/tfjs';
