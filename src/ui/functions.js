// pushgate status page behaviour (placeholder until the full UI lands).
"use strict";
