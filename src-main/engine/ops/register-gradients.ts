// tfjs-core's Node build registers no gradient functions; tfjs-layers' bundle registers them all
// into the shared registry. Import this module before any tf.grad / variableGrads call.
import '@tensorflow/tfjs-layers';
