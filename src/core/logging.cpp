// SPDX-License-Identifier: BSD-3-Clause
#include <synq/logging_p.h>

namespace Synq {

Q_LOGGING_CATEGORY(lcStorage, "synq.storage", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTransport, "synq.transport", QtInfoMsg)
Q_LOGGING_CATEGORY(lcEngine, "synq.engine", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPush, "synq.push", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPull, "synq.pull", QtInfoMsg)
Q_LOGGING_CATEGORY(lcModel, "synq.model", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTesting, "synq.testing", QtInfoMsg)

} // namespace Synq
