// A handler run by the official Node.js runtime client (npm aws-lambda-ric) under
// `cargo-lambda watch`: it answers with what it received, or throws when asked to.
"use strict";

exports.handler = async (event, context) => {
  console.log("node handler got", JSON.stringify(event));
  if (event && event.fail) {
    const error = new Error("asked to fail: " + event.fail);
    error.name = "AskedToFail";
    throw error;
  }
  return {
    echo: event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    invokedFunctionArn: context.invokedFunctionArn,
    remainingMs: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext || null,
  };
};

// A streaming handler (response streaming): writes the chunks it is given, one by one.
exports.stream = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType("text/plain");
  for (const chunk of event.chunks || []) {
    responseStream.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (event.fail) {
    throw new Error("asked to fail mid-stream: " + event.fail);
  }
  responseStream.end();
});
