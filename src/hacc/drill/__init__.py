"""`hacc drill`: run the generated keepalived and HAProxy configurations for real, in network
namespaces of the drill's own, fail them over, and measure what clients see."""
