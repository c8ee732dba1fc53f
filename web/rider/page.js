// What a part of the page asks of a part above it. The station view is opened from the
// list, the map and the search results, and drawn again after a claim or a change of
// session; those parts sit below the station view (it uses them: a station shows its
// claim button and rating, rating asks for sign-in), so they ask through here. main.js
// connects each request to the module that answers it, once, before anything runs, so
// every module imports only modules below it.

const NAMES = ["openStation", "redrawStation", "sessionChanged"];
const answers = {};

function request(name) {
  return (...args) => {
    const answer = answers[name];
    if (!answer) throw new Error(`rider page: nothing answers ${name}`);
    return answer(...args);
  };
}

// Open a station's view: its id, and the nearest answer's hit for it when there is one.
export const openStation = request("openStation");
// Draw the station view again (after a claim: the water left and the stored result).
export const redrawStation = request("redrawStation");
// The rider signed in or out: what is on screen is drawn again for the new session.
export const sessionChanged = request("sessionChanged");

// main.js, at start: the function that answers each request.
export function answerRequests(handlers) {
  for (const name of NAMES) {
    if (typeof handlers[name] !== "function") throw new Error(`rider page: no answer for ${name}`);
    answers[name] = handlers[name];
  }
}
